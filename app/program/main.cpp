// app/program/main.cpp: the metamerlab executable. Every error becomes one line on stderr
// and a non-zero exit (2: usage, 1: anything else); never a crash (program.h).
#include "app/program/program.h"

int main(int argc, char** argv) { return mm::app::program_main(argc, argv); }
