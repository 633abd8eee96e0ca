// app/cli.cpp: table-driven argument parsing and help for every subcommand.
#include "app/cli.h"

#include <algorithm>
#include <sstream>

namespace mm::app {

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
    throw UsageError(cmd_->name + ": --" + name + " needs a whole number, not \"" + v + "\"");
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
    throw UsageError(cmd_->name + ": --" + name + " needs a number, not \"" + v + "\"");
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
        throw UsageError(cmd.name + ": unknown option --" + name + " (see metamerlab " + cmd.name + " --help)");
      if (o->value.empty()) {
        if (inline_value) throw UsageError(cmd.name + ": --" + name + " takes no value");
        a.values_[name].push_back("1");
        continue;
      }
      if (!inline_value) {
        if (i + 1 >= argv.size()) throw UsageError(cmd.name + ": --" + name + " needs a value " + o->value);
        value = argv[++i];
      }
      if (!o->repeatable && a.values_.count(name))
        throw UsageError(cmd.name + ": --" + name + " given twice");
      a.values_[name].push_back(value);
    } else {
      if (cmd.positional.empty()) throw UsageError(cmd.name + ": unexpected argument \"" + tok + "\"");
      a.positionals_.push_back(tok);
    }
  }
  for (const auto& o : cmd.options)
    if (o.required && !a.values_.count(o.name))
      throw UsageError(cmd.name + ": --" + o.name + " " + o.value + " is required (see metamerlab " + cmd.name + " --help)");
  if (cmd.positional_required && a.positionals_.empty())
    throw UsageError(cmd.name + ": " + cmd.positional + " is required (see metamerlab " + cmd.name + " --help)");
  return a;
}

std::string help_text(const Command& cmd) {
  std::ostringstream s;
  s << "usage: metamerlab " << cmd.name;
  for (const auto& o : cmd.options)
    if (o.required) s << " --" << o.name << " " << o.value;
  s << " [options]";
  if (!cmd.positional.empty()) s << (cmd.positional_required ? " " : " [") << cmd.positional << (cmd.positional_required ? "" : "]");
  s << "\n\n" << cmd.summary << "\n";
  if (!cmd.description.empty()) s << "\n" << cmd.description << "\n";
  s << "\noptions:\n";
  for (const auto& o : cmd.options) {
    std::string left = "  --" + o.name + (o.value.empty() ? "" : " " + o.value);
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

std::string overview_text(const std::vector<Command>& cmds) {
  std::ostringstream s;
  s << "usage: metamerlab COMMAND [options]   (metamerlab COMMAND --help for details)\n\n"
       "Model metamers: synthesize them, test them against null distributions, classify, run people.\n\n"
       "commands:\n";
  for (const auto& c : cmds) s << "  " << c.name << std::string(c.name.size() < 12 ? 12 - c.name.size() : 1, ' ') << c.summary << "\n";
  s << "  version     print the program version\n";
  return s.str();
}

}  // namespace mm::app
