// app/program/process.h: process-wide settings that every metamerlab program (the command
// and the bench/ programs) makes first thing in main (library mm_cli).
#pragma once

namespace mm::app {

// Keeps memory the program frees for its next allocations instead of returning it to the
// kernel. glibc serves blocks over 32 MB (a batch of activations of a 224 x 224 network)
// with their own mappings and unmaps them on free, so every later batch faults each 4 kB
// page in again; where a page fault is slow (on the development VM, about 16 us: 400 MB
// took 6.4 s to touch), that dominated the null distribution's forward passes (bench_null,
// ResNet-18 conv1 ReLU x 100, one thread: forward 17.3 s before, 3.9 s after). Peak memory
// is the heap's high-water mark, as before; it is simply not handed back until exit.
// A thread's own arena (the live worker's) trims its heap at the default threshold too:
// without this setting a words synthesis step in the worker thread took 24-35 ms, a third
// of it in the kernel, against 7-10 ms with it (bench_live, demo-words-live.toml).
void keep_freed_memory();

}  // namespace mm::app
