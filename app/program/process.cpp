// app/program/process.cpp: see process.h.
#include "app/program/process.h"

#include <malloc.h>

namespace mm::app {

void keep_freed_memory() {
  ::mallopt(M_MMAP_MAX, 0);                // every block from the heap, none mapped on its own
  ::mallopt(M_TRIM_THRESHOLD, 1 << 30);    // the heap's top given back only past 1 GB free
}

}  // namespace mm::app
