// app/program/cli.cpp: table-driven argument parsing and help for every subcommand and
// bench program.
#include "app/program/cli.h"

#include <algorithm>
#include <iostream>
#include <sstream>

namespace mm::app {

namespace {
std::string joined(const std::vector<std::string>& v, const char* sep) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : sep) + x;
  return s;
}
// What messages call the command: its name, or the program's for a one-command program.
std::string who(const Command& c) { return c.name.empty() ? c.program : c.name; }
// The value name shown in usage and help: an enumerated option lists its values.
std::string value_name(const Option& o) { return o.choices.empty() ? o.value : joined(o.choices, "|"); }

void check_choice(const Command& cmd, const std::string& what, const std::vector<std::string>& choices,
                  const std::string& v) {
  if (choices.empty() || std::find(choices.begin(), choices.end(), v) != choices.end()) return;
  std::string list;  // "a, b or c"
  for (size_t i = 0; i < choices.size(); ++i)
    list += (i == 0 ? "" : i + 1 == choices.size() ? " or " : ", ") + choices[i];
  throw UsageError(who(cmd) + ": " + what + " must be " + list + ", not \"" + v + "\"");
}
}  // namespace

const Option& Args::spec(const std::string& name) const {
  for (const auto& o : cmd_->options)
    if (o.name == name) return o;
  throw std::logic_error("option --" + name + " is not declared for " + cmd_->name);
}

bool Args::has(const std::string& name) const {
  spec(name);
  return values_.count(name) > 0;
}

bool Args::flag(const std::string& name) const { return has(name); }

std::string Args::get(const std::string& name) const {
  const Option& o = spec(name);
  auto it = values_.find(name);
  if (it == values_.end() || it->second.empty()) return o.def;
  return it->second.back();
}

long long Args::get_int(const std::string& name) const {
  std::string v = get(name);
  try {
    size_t pos = 0;
    long long x = std::stoll(v, &pos);
    if (pos != v.size()) throw std::invalid_argument(v);
    return x;
  } catch (const std::exception&) {
    throw UsageError(who(*cmd_) + ": --" + name + " needs a whole number, not \"" + v + "\"");
  }
}

double Args::get_double(const std::string& name) const {
  std::string v = get(name);
  try {
    size_t pos = 0;
    double x = std::stod(v, &pos);
    if (pos != v.size()) throw std::invalid_argument(v);
    return x;
  } catch (const std::exception&) {
    throw UsageError(who(*cmd_) + ": --" + name + " needs a number, not \"" + v + "\"");
  }
}

std::vector<std::string> Args::list(const std::string& name) const {
  const Option& o = spec(name);
  std::vector<std::string> raw;
  auto it = values_.find(name);
  if (it != values_.end()) raw = it->second;
  else if (!o.def.empty()) raw = {o.def};
  std::vector<std::string> out;
  for (const auto& v : raw) {
    std::stringstream s(v);
    std::string part;
    while (std::getline(s, part, ','))
      if (!part.empty()) out.push_back(part);
  }
  return out;
}

Args parse_args(const Command& cmd, const std::vector<std::string>& argv) {
  Args a;
  a.cmd_ = &cmd;
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& tok = argv[i];
    if (tok.size() > 2 && tok.rfind("--", 0) == 0) {
      std::string name = tok.substr(2), value;
      bool inline_value = false;
      if (auto eq = name.find('='); eq != std::string::npos) {
        value = name.substr(eq + 1);
        name = name.substr(0, eq);
        inline_value = true;
      }
      auto o = std::find_if(cmd.options.begin(), cmd.options.end(), [&](const Option& x) { return x.name == name; });
      if (o == cmd.options.end())
        throw UsageError(who(cmd) + ": unknown option --" + name + " (see " + cmd.program + (cmd.name.empty() ? "" : " " + cmd.name) + " --help)");
      if (o->value.empty() && o->choices.empty()) {  // a flag
        if (inline_value) throw UsageError(who(cmd) + ": --" + name + " takes no value");
        a.values_[name].push_back("1");
        continue;
      }
      if (!inline_value) {
        if (i + 1 >= argv.size()) throw UsageError(who(cmd) + ": --" + name + " needs a value " + value_name(*o));
        value = argv[++i];
      }
      if (o->repeatable) {
        std::stringstream parts(value);
        for (std::string part; std::getline(parts, part, ',');)
          if (!part.empty()) check_choice(cmd, "--" + name, o->choices, part);
      } else {
        check_choice(cmd, "--" + name, o->choices, value);
      }
      if (!o->repeatable && a.values_.count(name))
        throw UsageError(who(cmd) + ": --" + name + " given twice");
      a.values_[name].push_back(value);
    } else {
      if (cmd.positional.empty()) throw UsageError(who(cmd) + ": unexpected argument \"" + tok + "\"");
      check_choice(cmd, cmd.positional, cmd.positional_choices, tok);
      a.positionals_.push_back(tok);
    }
  }
  for (const auto& o : cmd.options)
    if (o.required && !a.values_.count(o.name))
      throw UsageError(who(cmd) + ": --" + o.name + " " + value_name(o) + " is required (see " + cmd.program +
                       (cmd.name.empty() ? "" : " " + cmd.name) + " --help)");
  if (cmd.positional_required && a.positionals_.empty())
    throw UsageError(who(cmd) + ": " + cmd.positional + " is required (see " + cmd.program + (cmd.name.empty() ? "" : " " + cmd.name) + " --help)");
  return a;
}

std::string help_text(const Command& cmd) {
  std::ostringstream s;
  s << "usage: " << cmd.program << (cmd.name.empty() ? "" : " " + cmd.name);
  for (const auto& o : cmd.options)
    if (o.required) s << " --" << o.name << " " << value_name(o);
  s << " [options]";
  if (!cmd.positional.empty()) s << (cmd.positional_required ? " " : " [") << cmd.positional << (cmd.positional_required ? "" : "]");
  s << "\n\n" << cmd.summary << "\n";
  if (!cmd.description.empty()) s << "\n" << cmd.description << "\n";
  s << "\noptions:\n";
  for (const auto& o : cmd.options) {
    const std::string v = value_name(o);
    std::string left = "  --" + o.name + (v.empty() ? "" : " " + v);
    s << left;
    s << std::string(left.size() < 30 ? 30 - left.size() : 1, ' ');
    for (char c : o.help) {  // continuation lines of a long help text stay in the column
      s << c;
      if (c == '\n') s << std::string(30, ' ');
    }
    if (!o.def.empty()) s << " (default " << o.def << ")";
    if (o.required) s << " (required)";
    s << "\n";
  }
  s << "  --help" << std::string(22, ' ') << "show this help\n";  // column 30, as above
  return s.str();
}

std::optional<Args> parse_program_args(const Command& cmd, int argc, char** argv) {
  std::vector<std::string> rest(argv + 1, argv + argc);
  for (const auto& r : rest)
    if (r == "--help" || r == "-h") {
      std::cout << help_text(cmd);
      return std::nullopt;
    }
  Args a = parse_args(cmd, rest);
  a.command_line = cmd.program;
  for (const auto& r : rest) a.command_line += " " + r;
  return a;
}

}  // namespace mm::app
