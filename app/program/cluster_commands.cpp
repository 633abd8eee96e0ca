// app/program/cluster_commands.cpp: `metamerlab cluster submit|status|resubmit`, a synthesis
// job run as `synth --shard K/N` tasks of a Slurm job array, then merged by a job that
// depends on the array (sbatch --dependency=afterok).
//
// The work folder (--work, default OUT.slurm beside --out) holds:
//   synth.sh        the array task: this program's `synth` with the job's options and
//                   --shard $SLURM_ARRAY_TASK_ID/N --out OUT/shard-K --db OUT/shard-K.db
//   merge.sh        `merge DB OUT/shard-0.db ... OUT/shard-(N-1).db`
//   manifest.json   N, the command, every submission (array job id, its shards, merge job id)
//   state/          shard-K.started and shard-K.exit (the task's exit code), merge.exit
//   logs/           synth_%A_%a.out, merge_%j.out
// Status asks squeue (no accounting is needed) and reads state/: a shard is done, failed
// (exit code, log), pending or running in the queue, or not started.
//
// Sections
//   [SECTION] Helpers     quoting, checked values, running Slurm's clients
//   [SECTION] Scripts     the array and merge scripts
//   [SECTION] Submit      submit, resubmit
//   [SECTION] Status
//   [SECTION] Table
#include "app/program/program.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "stimuli/stimuli.h"

namespace mm::app {

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

// Options of `synth` the cluster sets itself per task.
const std::set<std::string> kOwnSynthOptions = {"out", "db", "shard"};
// Resource options passed to sbatch: name, the check of its value, what the check says.
struct Resource {
  const char* name;
  const char* pattern;
  const char* expect;
};
const Resource kResources[] = {
    {"partition", "[A-Za-z0-9_.,-]+", "a partition name"},
    {"time", "[0-9]+(-[0-9]+)?(:[0-9]+){0,2}", "minutes, H:MM:SS or D-HH:MM:SS"},
    {"cpus", "[1-9][0-9]{0,5}", "a whole number of CPUs per task, at least 1"},
    {"gpus", "([A-Za-z0-9_]+:)?[1-9][0-9]{0,4}", "a GPU count, or TYPE:COUNT"},
    {"mem", "[1-9][0-9]{0,9}[KMGT]?", "a size such as 4000 or 16G"},
};

// [SECTION] Helpers -----------------------------------------------------------------------
std::string quoted(const std::string& s) {
  std::string o = "'";
  for (char c : s) o += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return o + "'";
}

// A value as an error line shows it: control characters escaped, so the line stays one line.
std::string shown(const std::string& v) {
  std::string o;
  for (unsigned char c : v) o += c < 0x20 ? "\\x" + std::string(1, "0123456789abcdef"[c >> 4]) + "0123456789abcdef"[c & 15] : std::string(1, static_cast<char>(c));
  return o;
}

std::string self_exe() {
  std::error_code ec;
  const fs::path p = fs::read_symlink("/proc/self/exe", ec);
  if (ec) throw std::runtime_error("cluster: cannot find this program's path (/proc/self/exe): " + ec.message());
  return p.string();
}

std::string absolute(const std::string& p) { return fs::absolute(p).lexically_normal().string(); }

bool on_path(const std::string& tool) {
  const char* path = std::getenv("PATH");
  std::stringstream s(path ? path : "");
  for (std::string dir; std::getline(s, dir, ':');)
    if (!dir.empty() && ::access((fs::path(dir) / tool).c_str(), X_OK) == 0) return true;
  return false;
}

void need_tool(const std::string& tool) {
  if (!on_path(tool))
    throw std::runtime_error("cluster: " + tool + " not found on PATH (Slurm's client commands, Debian package slurm-client)");
}

struct Output {
  int code = -1;
  std::string text;  // stdout and stderr together
};

// Runs a command line (words already quoted) and captures its output.
Output run_capture(const std::string& cmdline) {
  Output o;
  FILE* p = ::popen((cmdline + " 2>&1").c_str(), "r");
  if (!p) throw std::runtime_error("cluster: cannot run " + cmdline);
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof buf, p)) > 0;) o.text.append(buf, n);
  const int st = ::pclose(p);
  o.code = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
  return o;
}

std::string first_line(const std::string& s) {
  std::string l = s.substr(0, s.find('\n'));
  return l.empty() ? "(no output)" : l;
}

// sbatch --parsable ARGS SCRIPT: the job id it prints ("123" or "123;cluster").
std::string sbatch(const std::string& args, const std::string& script) {
  const Output o = run_capture("sbatch --parsable " + args + " " + quoted(script));
  std::string id = o.text.substr(0, o.text.find_first_of(";\n"));
  if (o.code != 0 || id.empty() || id.find_first_not_of("0123456789") != std::string::npos)
    throw std::runtime_error("cluster: sbatch failed (exit " + std::to_string(o.code) + "): " + first_line(o.text));
  return id;
}

std::string read_file(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

// A, B, C as "0,2,3".
std::string index_list(const std::vector<int>& v) {
  std::string s;
  for (int k : v) s += (s.empty() ? "" : ",") + std::to_string(k);
  return s;
}

// [SECTION] Scripts -----------------------------------------------------------------------
struct Job {
  fs::path work;
  std::string exe, out, db, cwd;
  int shards = 0, parallel = 0;
  std::vector<std::string> synth_args;  // the synth options, as words
  std::map<std::string, std::string> resources;
};

std::string shard_db(const Job& j, int k) { return (fs::path(j.out) / ("shard-" + std::to_string(k) + ".db")).string(); }

std::string header(const Job& j, const std::string& name, const std::string& log) {
  std::string s = "#!/bin/sh\n";
  s += "#SBATCH --job-name=" + name + "\n";
  s += "#SBATCH --output=" + (j.work / "logs" / log).string() + "\n";
  s += "#SBATCH --chdir=" + j.cwd + "\n";
  return s;
}

std::string array_script(const Job& j) {
  std::string s = header(j, "metamerlab-synth", "synth_%A_%a.out");
  s.insert(s.find('\n') + 1, "# metamerlab cluster: one shard of a synthesis job (written by `metamerlab cluster submit`)\n");
  s += "#SBATCH --array=0-" + std::to_string(j.shards - 1) + "%" + std::to_string(j.parallel) + "\n";
  for (const auto& r : kResources) {
    auto it = j.resources.find(r.name);
    if (it == j.resources.end()) continue;
    const std::string flag = std::string(r.name) == "cpus" ? "cpus-per-task" : r.name;
    s += "#SBATCH --" + flag + "=" + it->second + "\n";
  }
  const std::string state = (j.work / "state").string();
  s += "K=$SLURM_ARRAY_TASK_ID\n";
  s += "STATE=" + quoted(state) + "\n";
  s += "rm -f \"$STATE/shard-$K.exit\"\n";
  s += "echo \"$SLURM_ARRAY_JOB_ID\" > \"$STATE/shard-$K.started\"\n";
  s += quoted(j.exe) + " synth";
  for (const auto& w : j.synth_args) s += " " + quoted(w);
  s += " --shard \"$K/" + std::to_string(j.shards) + "\" --out " + quoted(j.out + "/shard-") + "\"$K\" --db " +
       quoted(j.out + "/shard-") + "\"$K\"" + quoted(".db") + "\n";
  s += "rc=$?\n";
  s += "echo \"$rc $SLURM_ARRAY_JOB_ID\" > \"$STATE/shard-$K.exit.tmp\" && mv \"$STATE/shard-$K.exit.tmp\" \"$STATE/shard-$K.exit\"\n";
  s += "exit $rc\n";
  return s;
}

std::string merge_script(const Job& j) {
  std::string s = header(j, "metamerlab-merge", "merge_%j.out");
  s.insert(s.find('\n') + 1, "# metamerlab cluster: merge the shard databases (written by `metamerlab cluster submit`)\n");
  for (const char* r : {"partition", "time", "mem"}) {
    auto it = j.resources.find(r);
    if (it != j.resources.end()) s += std::string("#SBATCH --") + r + "=" + it->second + "\n";
  }
  const std::string state = (j.work / "state").string();
  s += "STATE=" + quoted(state) + "\n";
  s += "rm -f \"$STATE/merge.exit\"\n";
  s += quoted(j.exe) + " merge " + quoted(j.db);
  for (int k = 0; k < j.shards; ++k) s += " " + quoted(shard_db(j, k));
  s += "\nrc=$?\n";
  s += "echo \"$rc $SLURM_JOB_ID\" > \"$STATE/merge.exit.tmp\" && mv \"$STATE/merge.exit.tmp\" \"$STATE/merge.exit\"\n";
  s += "exit $rc\n";
  return s;
}

// [SECTION] Submit ------------------------------------------------------------------------
fs::path work_folder(const Args& a) {
  if (a.get("work").empty()) throw UsageError("cluster " + a.positionals()[0] + ": --work DIR is required");
  const fs::path w = absolute(a.get("work"));
  if (!fs::is_regular_file(w / "manifest.json"))
    throw std::runtime_error("cluster: " + (w / "manifest.json").string() + " not found (not a work folder of `cluster submit`)");
  return w;
}

json read_manifest(const fs::path& w) {
  try {
    return json::parse(read_file(w / "manifest.json"));
  } catch (const std::exception& e) {
    throw std::runtime_error("cluster: " + (w / "manifest.json").string() + " is not valid: " + e.what());
  }
}

int cmd_submit(const Args& a, const std::vector<Option>& synth_options) {
  if (a.positionals().size() != 1) throw UsageError("cluster: give one action: submit, status or resubmit");
  Job j;
  j.shards = static_cast<int>(positive(a, "shards"));
  if (j.shards > 1000) throw UsageError("cluster submit: --shards must be at most 1000 (Slurm's default MaxArraySize 1001)");
  j.parallel = a.has("parallel") ? static_cast<int>(positive(a, "parallel")) : j.shards;
  for (const auto& r : kResources) {
    if (!a.has(r.name)) continue;
    const std::string v = a.get(r.name);
    if (!std::regex_match(v, std::regex(r.pattern)))
      throw UsageError(std::string("cluster submit: --") + r.name + " must be " + r.expect + ", not \"" + shown(v) + "\"");
    j.resources[r.name] = v;
  }
  for (const auto& o : synth_options) {
    if (kOwnSynthOptions.count(o.name)) continue;
    if (o.required && !a.has(o.name))
      throw UsageError("cluster submit: --" + o.name + " is required (the synth options; see metamerlab synth --help)");
    if (!a.has(o.name)) continue;
    if (o.value.empty() && o.choices.empty()) {
      j.synth_args.push_back("--" + o.name);
    } else if (o.repeatable) {
      std::string v;
      for (const auto& x : a.list(o.name)) v += (v.empty() ? "" : ",") + x;
      j.synth_args.insert(j.synth_args.end(), {"--" + o.name, v});
    } else {
      j.synth_args.insert(j.synth_args.end(), {"--" + o.name, a.get(o.name)});
    }
  }
  if (a.get("out").empty()) throw UsageError("cluster submit: --out DIR is required (the shards write OUT/shard-K)");
  j.out = absolute(a.get("out"));
  j.db = absolute(a.get("db"));
  j.work = a.get("work").empty() ? fs::path(j.out + ".slurm") : fs::path(absolute(a.get("work")));
  j.cwd = fs::current_path().string();
  j.exe = self_exe();
  for (const std::string* p : {&j.out, &j.db, &j.cwd}) {
    const std::string s = j.work.string() + *p;
    if (s.find_first_of("\n\r\t %") != std::string::npos)
      throw UsageError("cluster submit: a path with a space, newline or % cannot go into an #SBATCH line: " + shown(*p));
  }
  const std::string synth_sh = array_script(j), merge_sh = merge_script(j);
  if (a.flag("dry-run")) {
    std::cout << "# " << (j.work / "synth.sh").string() << "\n" << synth_sh << "\n# " << (j.work / "merge.sh").string()
              << " (submitted with --dependency=afterok:<the array's job id>)\n" << merge_sh;
    return 0;
  }
  need_tool("sbatch");
  if (fs::exists(j.work / "manifest.json"))
    throw std::runtime_error("cluster submit: " + j.work.string() + " already holds a submitted job (use cluster status or "
                             "cluster resubmit, or another --work)");
  fs::create_directories(j.work / "logs");
  fs::create_directories(j.work / "state");
  fs::create_directories(j.out);
  stimuli::write_file_atomic((j.work / "synth.sh").string(), synth_sh);
  stimuli::write_file_atomic((j.work / "merge.sh").string(), merge_sh);
  const std::string array_id = sbatch("", (j.work / "synth.sh").string());
  const std::string merge_id = sbatch("--dependency=afterok:" + array_id, (j.work / "merge.sh").string());
  std::vector<int> all;
  for (int k = 0; k < j.shards; ++k) all.push_back(k);
  json m = {{"shards", j.shards},
            {"parallel", j.parallel},
            {"out", j.out},
            {"db", j.db},
            {"program", j.exe},
            {"command", a.command_line},
            {"synth_args", j.synth_args},
            {"submissions", json::array({{{"array_job", array_id}, {"shards", all}, {"merge_job", merge_id}}})}};
  stimuli::write_file_atomic((j.work / "manifest.json").string(), m.dump(2) + "\n");
  std::cout << "submitted array job " << array_id << " (" << j.shards << " shard(s), at most " << j.parallel
            << " at once) and merge job " << merge_id << " into " << j.db << "; work folder " << j.work.string() << "\n";
  return 0;
}

// [SECTION] Status ------------------------------------------------------------------------
struct ShardState {
  std::string what;  // done, failed, pending, running, not started
  std::string detail;
};

// squeue's view of every job: "123_4" or "123" -> state and reason.
std::map<std::string, std::pair<std::string, std::string>> queue() {
  need_tool("squeue");
  const Output o = run_capture("squeue -h -r -o '%i|%T|%r'");
  if (o.code != 0) throw std::runtime_error("cluster: squeue failed (exit " + std::to_string(o.code) + "): " + first_line(o.text));
  std::map<std::string, std::pair<std::string, std::string>> q;
  std::stringstream s(o.text);
  for (std::string l; std::getline(s, l);) {
    const auto a = l.find('|'), b = l.find('|', a == std::string::npos ? a : a + 1);
    if (a == std::string::npos || b == std::string::npos) continue;
    q[l.substr(0, a)] = {l.substr(a + 1, b - a - 1), l.substr(b + 1)};
  }
  return q;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::vector<ShardState> shard_states(const fs::path& w, const json& m,
                                     const std::map<std::string, std::pair<std::string, std::string>>& q) {
  const int n = m.at("shards").get<int>();
  std::vector<ShardState> st(n);
  // The submission that last included each shard.
  std::vector<std::string> job(n);
  for (const auto& sub : m.at("submissions"))
    for (int k : sub.at("shards")) job.at(k) = sub.at("array_job").get<std::string>();
  for (int k = 0; k < n; ++k) {
    const std::string task = job[k] + "_" + std::to_string(k);
    const fs::path exit_file = w / "state" / ("shard-" + std::to_string(k) + ".exit");
    const fs::path started = w / "state" / ("shard-" + std::to_string(k) + ".started");
    std::string queued_state;
    if (auto it = q.find(task); it != q.end()) queued_state = lower(it->second.first);
    else if (auto it2 = q.find(job[k]); it2 != q.end()) queued_state = lower(it2->second.first);  // array not yet split
    if (!queued_state.empty() && queued_state != "completing") {
      st[k] = {queued_state == "pending" ? "not started" : queued_state, "job " + task + ", " + queued_state};
      continue;
    }
    if (fs::exists(exit_file)) {
      std::stringstream s(read_file(exit_file));
      int code = -1;
      std::string id;
      s >> code >> id;
      const std::string log = (w / "logs" / ("synth_" + id + "_" + std::to_string(k) + ".out")).string();
      if (code == 0) st[k] = {"done", "log " + log};
      else st[k] = {"failed", "exit code " + std::to_string(code) + ", log " + log};
    } else if (fs::exists(started)) {
      std::stringstream s(read_file(started));
      std::string id;
      s >> id;
      st[k] = {"failed", "ended without an exit code (killed or out of time?), log " +
                             (w / "logs" / ("synth_" + id + "_" + std::to_string(k) + ".out")).string()};
    } else {
      st[k] = {"not started", "job " + task + " is not in the queue"};
    }
  }
  return st;
}

int cmd_status(const Args& a) {
  const fs::path w = work_folder(a);
  const json m = read_manifest(w);
  const auto q = queue();
  const auto st = shard_states(w, m, q);
  const int n = static_cast<int>(st.size());
  std::map<std::string, std::vector<int>> by;
  for (int k = 0; k < n; ++k) {
    std::cout << "shard " << k << "/" << n << ": " << st[k].what << " (" << st[k].detail << ")\n";
    by[st[k].what].push_back(k);
  }
  const std::string merge_id = m.at("submissions").back().at("merge_job").get<std::string>();
  std::string merge;
  if (auto it = q.find(merge_id); it != q.end()) {
    merge = lower(it->second.first) + (it->second.second.empty() || it->second.second == "None" ? "" : " (" + it->second.second + ")");
  } else if (fs::exists(w / "state" / "merge.exit")) {
    std::stringstream s(read_file(w / "state" / "merge.exit"));
    int code = -1;
    std::string id;
    s >> code >> id;
    const std::string log = (w / "logs" / ("merge_" + id + ".out")).string();
    merge = code == 0 ? "done into " + m.at("db").get<std::string>() + " (log " + log + ")"
                      : "failed (exit code " + std::to_string(code) + ", log " + log + ")";
  } else {
    merge = "not run (job " + merge_id + " is not in the queue)";
  }
  std::cout << "merge job " << merge_id << ": " << merge << "\n";
  std::cout << by["done"].size() << " of " << n << " shard(s) done";
  for (const char* what : {"failed", "not started", "running"})
    if (!by[what].empty()) std::cout << "; " << what << ": " << index_list(by[what]);
  if (!by["failed"].empty() || (!by["not started"].empty() && by["running"].empty()))
    std::cout << "; `metamerlab cluster resubmit --work " << w.string() << "` submits the missing ones";
  std::cout << "\n";
  return 0;
}

int cmd_resubmit(const Args& a) {
  const fs::path w = work_folder(a);
  json m = read_manifest(w);
  const auto q = queue();
  const auto st = shard_states(w, m, q);
  std::vector<int> todo;
  for (int k = 0; k < static_cast<int>(st.size()); ++k) {
    if (st[k].what == "failed") todo.push_back(k);
    // Not started and not waiting in the queue: lost (cancelled before it began).
    else if (st[k].what == "not started" && st[k].detail.find("not in the queue") != std::string::npos) todo.push_back(k);
  }
  if (todo.empty()) {
    std::cout << "nothing to resubmit: every shard is done, pending or running (metamerlab cluster status --work "
              << w.string() << ")\n";
    return 0;
  }
  need_tool("sbatch");
  // The old merge job waits forever on a failed array (DependencyNeverSatisfied): cancel it.
  const std::string old_merge = m.at("submissions").back().at("merge_job").get<std::string>();
  if (q.count(old_merge) && on_path("scancel")) run_capture("scancel " + quoted(old_merge));
  for (int k : todo) {
    std::error_code ec;
    fs::remove(w / "state" / ("shard-" + std::to_string(k) + ".exit"), ec);
    fs::remove(w / "state" / ("shard-" + std::to_string(k) + ".started"), ec);
  }
  const int parallel = m.value("parallel", static_cast<int>(todo.size()));
  const std::string array_id = sbatch("--array=" + index_list(todo) + "%" + std::to_string(parallel),
                                      (w / "synth.sh").string());
  // The merge waits for the new array and for each task of earlier submissions still queued
  // (by task: a failed task makes its whole array never satisfy afterok).
  std::string deps = array_id;
  for (const auto& sub : m.at("submissions")) {
    const std::string id = sub.at("array_job").get<std::string>();
    for (const auto& [task, s] : q)
      if (task.rfind(id + "_", 0) == 0 && task.find('[') == std::string::npos) deps += ":" + task;
  }
  const std::string merge_id = sbatch("--dependency=afterok:" + deps, (w / "merge.sh").string());
  m["submissions"].push_back({{"array_job", array_id}, {"shards", todo}, {"merge_job", merge_id}});
  stimuli::write_file_atomic((w / "manifest.json").string(), m.dump(2) + "\n");
  std::cout << "resubmitted shard(s) " << index_list(todo) << " as array job " << array_id << " and merge job " << merge_id
            << "\n";
  return 0;
}

}  // namespace

// [SECTION] Table -------------------------------------------------------------------------
CommandEntry cluster_command(const Command& synth) {
  Command c{"cluster",
            "run synth as shards of a Slurm job array, merged by a dependent job; status; resubmit",
            "submit: writes WORK/synth.sh, an sbatch array (--array=0-(N-1)%M) whose task K runs\n"
            "`synth <the synth options> --shard K/N --out OUT/shard-K --db OUT/shard-K.db`, and WORK/merge.sh\n"
            "(`merge DB OUT/shard-*.db`); submits the array with sbatch --parsable, then the merge with\n"
            "--dependency=afterok on it, and records both job ids in WORK/manifest.json. --dry-run prints\n"
            "the scripts and submits nothing.\n"
            "status --work DIR: each shard done, failed (exit code, log), running or not started, and the merge.\n"
            "resubmit --work DIR: an array of only the failed or lost shards, and a new merge job.",
            {{"shards", "N", "shards (array tasks), 1 to 1000", ""},
             {"parallel", "M", "at most M tasks at once (default N)", ""},
             {"partition", "P", "sbatch --partition", ""},
             {"time", "T", "sbatch --time per task (minutes, H:MM:SS or D-HH:MM:SS)", ""},
             {"cpus", "C", "sbatch --cpus-per-task", ""},
             {"gpus", "G", "sbatch --gpus per task (COUNT or TYPE:COUNT)", ""},
             {"mem", "M", "sbatch --mem per task (e.g. 16G)", ""},
             {"work", "DIR", "the scripts, logs, state and manifest (default: OUT.slurm beside --out)", ""},
             {"dry-run", "", "print the scripts; submit nothing"}},
            "ACTION",
            true,
            {"submit", "status", "resubmit"}};
  std::vector<Option> synth_options;
  for (Option o : synth.options) {
    synth_options.push_back(o);
    o.required = false;  // required by submit only (checked there)
    if (o.name == "out") o.help = "output folder: shard K writes OUT/shard-K and OUT/shard-K.db";
    if (o.name == "db") o.help = "the merged database";
    if (o.name != "shard") c.options.push_back(o);
  }
  return {c,
          [synth_options, all = c.options](const Args& a) {
            if (a.positionals().size() != 1) throw UsageError("cluster: give one action: submit, status or resubmit");
            const std::string action = a.positionals()[0];
            if (action == "submit") return cmd_submit(a, synth_options);
            for (const auto& o : all)
              if (o.name != "work" && a.has(o.name))
                throw UsageError("cluster " + action + ": --" + o.name + " is for cluster submit (give only --work DIR)");
            return action == "status" ? cmd_status(a) : cmd_resubmit(a);
          },
          EngineUse::none};
}

}  // namespace mm::app
