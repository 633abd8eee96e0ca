// app/program/program.h: the metamerlab program layer, where the libraries meet: the
// command table (each entry: its options, its handler, and whether it needs the engine)
// and dispatch. The engine (synth/), the presentation library (app/), the session module
// (experiments/), the store (data/) and the analysis (analysis/) know nothing of it.
//
//   engine_commands.cpp    synth null classify info trace merge demo report resave train dataset
//   session_commands.cpp   plan run launch studio calibrate sessions timing-test
//   compare_commands.cpp   judge analyze export
//   reproduce.cpp          reproduce (the paper's pipeline on the bundled world)
//   cluster_commands.cpp   cluster submit|status|resubmit (synth as Slurm array shards)
//   program.cpp            the table, help, version, dispatch (run_program)
//   main.cpp               the executable's entry: errors become one line and an exit code
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "app/program/cli.h"

namespace mm::app {

// What a command needs from the LibTorch engine before its handler runs.
enum class EngineUse {
  none,     // no torch at all
  threads,  // torch on the CPU: --threads (set once, before the handler)
  device,   // torch on a device: --threads and --device cpu|cuda (checked before the handler)
  live,     // sessions that may generate live: --device and --live-threads (default: one core fewer than
            // the machine has, at least one, so the presentation loop keeps a core)
};

struct CommandEntry {
  Command command;                                // name, help, options (parsing and --help)
  std::function<int(const Args&)> handler;        // returns the exit code; throws UsageError / std::exception
  EngineUse engine = EngineUse::none;             // the engine options are added to `command` by the table
};

// The commands of each group (their files above).
std::vector<CommandEntry> engine_commands();
std::vector<CommandEntry> session_commands();
std::vector<CommandEntry> compare_commands();
CommandEntry reproduce_command();  // reproduce.cpp
// cluster submit|status|resubmit (cluster_commands.cpp): synth's options (given as `synth`) run as Slurm array shards.
CommandEntry cluster_command(const Command& synth);
// Every command, with the engine options added; in the order `metamerlab --help` lists them.
const std::vector<CommandEntry>& command_table();

// Shared option parsing for handlers.
long long positive(const Args& a, const std::string& name, long long min = 1);

// Runs the command named by argv[0] with the rest as its arguments. Returns the exit code;
// throws UsageError for bad arguments and std::exception for failures.
int run_program(const std::vector<std::string>& argv);
// main(): run_program with every error turned into one line on stderr and an exit code
// (2: usage, 1: anything else). Never a crash.
int program_main(int argc, char** argv);

}  // namespace mm::app
