// app/program/cli.h: the one argument parser for every metamerlab subcommand and every
// bench/ program (library mm_cli; no other dependency).
//
// Each command declares its options in a table (name, value name, help, default, whether
// required, the allowed values of an enumerated option); the same table parses the command
// line, checks enumerated values, and generates --help. Parse errors throw UsageError,
// which the entry point prints as one line and exits 2.
#pragma once
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace mm::app {

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Option {
  std::string name;      // without the leading "--"
  std::string value;     // value name shown in help ("" for a flag)
  std::string help;
  std::string def = "";  // default shown in help and returned when absent
  bool required = false;
  bool repeatable = false;  // values may be given several times or comma-separated
  std::vector<std::string> choices = {};  // enumerated: the allowed values (checked, listed in --help)
};

struct Command {
  std::string name;
  std::string summary;       // one line for the command list
  std::string description;   // paragraph for --help
  std::vector<Option> options;
  std::string positional;    // value name of positional arguments ("" for none)
  bool positional_required = false;
  std::vector<std::string> positional_choices = {};  // allowed positional values (empty: any)
  std::string program = "metamerlab";  // what usage lines and messages call the program
};

class Args {
 public:
  bool has(const std::string& name) const;     // given on the command line
  bool flag(const std::string& name) const;
  std::string get(const std::string& name) const;  // value or default
  long long get_int(const std::string& name) const;
  double get_double(const std::string& name) const;
  std::vector<std::string> list(const std::string& name) const;  // comma-split, all occurrences
  const std::vector<std::string>& positionals() const { return positionals_; }
  std::string command_line;  // the whole invocation, for provenance

 private:
  friend Args parse_args(const Command&, const std::vector<std::string>&);
  const Command* cmd_ = nullptr;
  std::map<std::string, std::vector<std::string>> values_;
  std::vector<std::string> positionals_;
  const Option& spec(const std::string& name) const;
};

// argv without the program and subcommand names. "--help" is handled by the caller.
Args parse_args(const Command& cmd, const std::vector<std::string>& argv);
std::string help_text(const Command& cmd);
// Parses argv[1..] of a program with one command (a bench program): prints help_text and
// returns nullopt for --help; throws UsageError otherwise.
std::optional<Args> parse_program_args(const Command& cmd, int argc, char** argv);

}  // namespace mm::app
