// app/main.cpp: the metamerlab program's entry: runs a subcommand, turns every error into
// one line on stderr and a non-zero exit (2: usage, 1: anything else). Never a crash.
#include <exception>
#include <iostream>
#include <string>
#include <vector>

#include "app/cli.h"
#include "app/commands.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  try {
    return mm::app::run_command(args);
  } catch (const mm::app::UsageError& e) {
    std::cerr << "metamerlab: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::string msg = e.what();
    if (auto nl = msg.find('\n'); nl != std::string::npos) msg = msg.substr(0, nl);
    std::cerr << "metamerlab: error: " << msg << "\n";
    return 1;
  } catch (...) {
    std::cerr << "metamerlab: error: unexpected failure\n";
    return 1;
  }
}
