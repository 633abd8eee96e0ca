// app/commands.h: metamerlab's subcommands (synth, null, classify, info, demo).
#pragma once
#include <string>
#include <vector>

namespace mm::app {

// Runs the subcommand named by argv[0] with the rest as its arguments. Returns the exit
// code; throws UsageError for bad arguments and std::exception for failures.
int run_command(const std::vector<std::string>& argv);

}  // namespace mm::app
