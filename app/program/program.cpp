// app/program/program.cpp: the command table, help, version and dispatch.
//
// Sections
//   [SECTION] Table      every command, the engine options added where the engine is used
//   [SECTION] Dispatch   run_program, program_main
#include "app/program/program.h"
#include "app/program/process.h"

#include <sys/stat.h>

#include <cstdlib>

#include <algorithm>
#include <iostream>
#include <thread>

#include "synth/engine.h"

namespace mm::app {

long long positive(const Args& a, const std::string& name, long long min) {
  const long long v = a.get_int(name);
  if (v < min) throw UsageError("--" + name + " must be at least " + std::to_string(min));
  return v;
}

// [SECTION] Table -------------------------------------------------------------------------
namespace {

const Option kThreads{"threads", "N", "torch threads (0: one per core)", "0"};
const Option kLiveThreads{"live-threads", "N",
                          "torch threads of live generation's worker (0: one fewer than the cores, at least 1)", "0"};
const Option kDevice{"device", "", "where torch computes (cuda needs a CUDA build of LibTorch)", "cpu", false, false,
                     {"cpu", "cuda"}};

std::string overview(const std::vector<CommandEntry>& table) {
  std::string s =
      "usage: metamerlab COMMAND [options]   (metamerlab COMMAND --help for details)\n\n"
      "Model metamers: synthesize them, test them against null distributions, classify, run people.\n\n"
      "commands:\n";
  for (const auto& e : table) {
    const std::string& n = e.command.name;
    s += "  " + n + std::string(n.size() < 12 ? 12 - n.size() : 1, ' ') + e.command.summary + "\n";
  }
  s += "  version     print the program version\n";
  return s;
}

}  // namespace

const std::vector<CommandEntry>& command_table() {
  static const std::vector<CommandEntry> table = [] {
    std::vector<CommandEntry> t = engine_commands();
    for (auto& e : session_commands()) t.push_back(std::move(e));
    for (auto& e : compare_commands()) t.push_back(std::move(e));
    t.push_back(reproduce_command());
    for (auto& e : t) {
      if (e.engine == EngineUse::device || e.engine == EngineUse::live) e.command.options.push_back(kDevice);
      if (e.engine == EngineUse::live) e.command.options.push_back(kLiveThreads);
      else if (e.engine != EngineUse::none) e.command.options.push_back(kThreads);
    }
    // cluster takes synth's options (with its engine options) and passes them to each shard.
    for (const auto& e : engine_commands())
      if (e.command.name == "synth") {
        Command synth = e.command;
        synth.options.push_back(kDevice);
        synth.options.push_back(kThreads);
        t.push_back(cluster_command(synth));
      }
    return t;
  }();
  return table;
}

// [SECTION] Dispatch ----------------------------------------------------------------------
int run_program(const std::vector<std::string>& argv) {
  const auto& table = command_table();
  if (argv.empty() || argv[0] == "--help" || argv[0] == "-h" || argv[0] == "help") {
    if (argv.size() >= 2)
      for (const auto& e : table)
        if (e.command.name == argv[1]) {
          std::cout << help_text(e.command);
          return 0;
        }
    std::cout << overview(table);
    return argv.empty() ? 2 : 0;
  }
  if (argv[0] == "version" || argv[0] == "--version") {
    std::cout << "metamerlab " << synth::program_version() << "\n";
    return 0;
  }
  const auto it = std::find_if(table.begin(), table.end(), [&](const CommandEntry& e) { return e.command.name == argv[0]; });
  if (it == table.end()) throw UsageError("unknown command \"" + argv[0] + "\" (metamerlab --help lists them)");
  const CommandEntry& entry = *it;
  const std::vector<std::string> rest(argv.begin() + 1, argv.end());
  for (const auto& r : rest)
    if (r == "--help" || r == "-h") {
      std::cout << help_text(entry.command);
      return 0;
    }
  Args a = parse_args(entry.command, rest);
  a.command_line = "metamerlab";
  for (const auto& s : argv) a.command_line += " " + s;
  if (entry.engine != EngineUse::none) {
    const bool live = entry.engine == EngineUse::live;
    const std::string opt = live ? "live-threads" : "threads";
    long long threads = a.get_int(opt);
    if (threads < 0) throw UsageError(entry.command.name + ": --" + opt + " must be 0 (automatic) or more");
    if (live && threads == 0) threads = std::max(1u, std::thread::hardware_concurrency()) > 1
                                            ? std::max(1u, std::thread::hardware_concurrency()) - 1 : 1;
    synth::Runtime r;
    r.threads = static_cast<int>(std::min<long long>(threads, 1 << 20));
    if (entry.engine != EngineUse::threads) r.device = a.get("device") == "cuda" ? synth::Device::cuda : synth::Device::cpu;
    try {
      synth::init_runtime(r);
    } catch (const std::runtime_error& e) {
      throw UsageError(entry.command.name + ": " + e.what());  // too many threads, or no such device
    }
  }
  return entry.handler(a);
}

int program_main(int argc, char** argv) {
  keep_freed_memory();
  const std::vector<std::string> args(argv + 1, argv + argc);
  // Shared lab machines: databases, exports, metamers and every folder the program creates
  // are its owner's alone (umask 077 on top of the user's) unless METAMERLAB_SHARED=1 asks
  // for the user's own umask.
  if (const char* shared = std::getenv("METAMERLAB_SHARED"); !(shared && std::string(shared) == "1")) {
    const mode_t old = ::umask(077);
    ::umask(old | 077);
  }
  try {
    return run_program(args);
  } catch (const UsageError& e) {
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

}  // namespace mm::app
