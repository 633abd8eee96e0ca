// experiments (internal): Tab, typed and located access to one TOML table (toml++), shared
// by the experiment file parser (experiment.cpp) and the station profile parser
// (station.cpp): unknown keys refused with a "did you mean", every value typed and ranged,
// every error thrown as ExperimentError at FILE:LINE. Not part of the module's API.
#pragma once
#include <toml++/toml.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "experiments/experiment.h"
#include "experiments/internal.h"

namespace mm::experiments::detail {

inline size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

inline std::string type_name(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "a whole number";
    case toml::node_type::floating_point: return "a number with a fraction";
    case toml::node_type::boolean: return "true/false";
    case toml::node_type::array: return "an array";
    case toml::node_type::table: return "a table";
    default: return "a date/time";
  }
}

inline int line_of(const toml::node& n) { return static_cast<int>(n.source().begin.line); }

// One TOML table with its name for messages ("[timing]", "[[blocks]] #3") and the keys it
// may hold. Construction rejects unknown keys.
class Tab {
 public:
  Tab(const toml::table& t, std::string where, const std::string& file,
      const std::vector<std::string>& allowed, int fallback_line = 1,
      const std::string& unknown_hint = "")
      : t_(t), where_(std::move(where)), file_(file) {
    line_ = line_of(t) > 0 ? line_of(t) : fallback_line;
    for (const auto& [k, v] : t) {
      const std::string key(k.str());
      if (std::find(allowed.begin(), allowed.end(), key) != allowed.end()) continue;
      std::string best;
      size_t best_d = 3;
      for (const auto& a : allowed) {
        size_t d = edit_distance(key, a);
        if (d < best_d) best_d = d, best = a;
      }
      std::string msg = "unknown key \"" + key + "\" in " + where_;
      if (!best.empty()) msg += "; did you mean \"" + best + "\"?";
      else msg += unknown_hint.empty() ? "; known keys: " + join(allowed, 40) : "; " + unknown_hint;
      int l = static_cast<int>(k.source().begin.line);
      fail_at(file_, l > 0 ? l : line_of(v), msg);
    }
  }

  int line() const { return line_; }
  const std::string& where() const { return where_; }
  bool has(const std::string& k) const { return t_.contains(k); }
  const toml::node* node(const std::string& k) const { return t_.get(k); }
  int line(const std::string& k) const {
    const toml::node* n = t_.get(k);
    return n && line_of(*n) > 0 ? line_of(*n) : line_;
  }
  Where at(const std::string& k) const { return {file_, line(k)}; }
  Where at() const { return {file_, line_}; }

  [[noreturn]] void fail(const std::string& k, const std::string& msg) const {
    fail_at(file_, line(k), msg);
  }
  [[noreturn]] void fail_here(const std::string& msg) const { fail_at(file_, line_, msg); }

  [[noreturn]] void wrong_type(const std::string& k, const std::string& want) const {
    fail(k, where_ + " " + k + " must be " + want + ", not " + type_name(*node(k)));
  }

  std::string str(const std::string& k, const std::string& def = "") const {
    const toml::node* n = node(k);
    if (!n) return def;
    if (!n->is_string()) wrong_type(k, "a string (in quotes)");
    return **n->as_string();
  }
  std::string required_str(const std::string& k, const std::string& example) const {
    if (!has(k)) fail_here(where_ + " needs " + k + " = " + example);
    std::string s = str(k);
    if (s.empty()) fail(k, where_ + " " + k + " is empty; give " + k + " = " + example);
    return s;
  }
  int64_t integer(const std::string& k, int64_t def, int64_t lo, int64_t hi) const {
    const toml::node* n = node(k);
    if (!n) return def;
    if (!n->is_integer()) wrong_type(k, "a whole number");
    int64_t v = **n->as_integer();
    if (v < lo || v > hi)
      fail(k, where_ + " " + k + " = " + std::to_string(v) + " is out of range; use " +
                  std::to_string(lo) + " to " + std::to_string(hi));
    return v;
  }
  // A number (whole or with a fraction) within [lo, hi].
  double number(const std::string& k, double def, double lo, double hi, const std::string& unit = "") const {
    const toml::node* n = node(k);
    if (!n) return def;
    if (!n->is_number()) wrong_type(k, "a number");
    const double v = n->is_integer() ? static_cast<double>(**n->as_integer()) : **n->as_floating_point();
    if (!(v >= lo && v <= hi)) {
      auto f = [](double x) {
        std::string s = std::to_string(x);
        s.erase(s.find_last_not_of('0') + 1);
        if (!s.empty() && s.back() == '.') s.pop_back();
        return s;
      };
      fail(k, where_ + " " + k + " = " + f(v) + " is out of range; use " + f(lo) + " to " + f(hi) +
                  (unit.empty() ? "" : " " + unit));
    }
    return v;
  }
  bool boolean(const std::string& k, bool def) const {
    const toml::node* n = node(k);
    if (!n) return def;
    if (!n->is_boolean()) wrong_type(k, "true or false");
    return **n->as_boolean();
  }
  // A string or an array of strings; each element's line goes to `lines` when given.
  std::vector<std::string> strings(const std::string& k, std::vector<int>* lines = nullptr) const {
    std::vector<std::string> out;
    const toml::node* n = node(k);
    if (!n) return out;
    if (n->is_string()) {
      out.push_back(**n->as_string());
      if (lines) lines->push_back(line(k));
      return out;
    }
    if (!n->is_array()) wrong_type(k, "a string or an array of strings");
    for (const toml::node& e : *n->as_array()) {
      if (!e.is_string())
        fail_at(file_, line_of(e) > 0 ? line_of(e) : line(k),
                where_ + " " + k + " must hold strings only, not " + type_name(e));
      out.push_back(**e.as_string());
      if (lines) lines->push_back(line_of(e) > 0 ? line_of(e) : line(k));
    }
    return out;
  }
  const toml::table* table(const std::string& k) const {
    const toml::node* n = node(k);
    if (!n) return nullptr;
    if (!n->is_table()) wrong_type(k, "a table");
    return n->as_table();
  }

 private:
  const toml::table& t_;
  std::string where_;
  const std::string& file_;
  int line_ = 1;
};

}  // namespace mm::experiments::detail
