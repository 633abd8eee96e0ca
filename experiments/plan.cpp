// experiments/plan.cpp: planning a session's trials (see plan.h for the design), its JSON
// form and its summary. Randomness comes from a SplitMix64 generator and our own
// Fisher-Yates and bounded draws, so a plan is the same on every platform and library.
//
// Sections
//   [SECTION] Random        SplitMix64, seed mixing, shuffles
//   [SECTION] Shuffle       within-block order with at most max_run of a condition in a row
//   [SECTION] Blocks        main (Latin square + fallback + catch), practice/demo, catch
//   [SECTION] make_plan
//   [SECTION] JSON          plan_to_json, plan_from_json
//   [SECTION] Summary       summarize_plan
#include "experiments/plan.h"

#include <algorithm>
#include <sstream>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>

#include "experiments/internal.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace mm::experiments {
namespace {

// [SECTION] Random ------------------------------------------------------------------------
uint64_t splitmix(uint64_t& s) {
  uint64_t z = (s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

uint64_t hash_text(const std::string& s) {  // FNV-1a
  uint64_t h = 0xCBF29CE484222325ull;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001B3ull;
  return h;
}

// A seed derived from several values (order matters).
uint64_t mix(std::initializer_list<uint64_t> parts) {
  uint64_t s = 0x6D6D6C62ull;  // "mmlb"
  for (uint64_t p : parts) {
    s ^= p;
    splitmix(s);
    s = splitmix(s);
  }
  return s;
}

struct Rng {
  uint64_t state;
  explicit Rng(uint64_t seed) : state(seed) {}
  uint64_t next() { return splitmix(state); }
  // Uniform in [0, n), without modulo bias.
  uint64_t below(uint64_t n) {
    const uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t x;
    do x = next();
    while (x >= limit);
    return x % n;
  }
  template <class T>
  void shuffle(std::vector<T>& v) {
    for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[below(i)]);
  }
};

// [SECTION] Shuffle -----------------------------------------------------------------------
// Can `rem` (counts per condition) still be laid out with at most k in a row, given that
// the sequence so far ends with `run` trials of condition `last`?
bool feasible(const std::map<std::string, int>& rem, const std::string& last, int run, int k) {
  int total = 0;
  for (const auto& [c, n] : rem) total += n;
  for (const auto& [c, n] : rem) {
    const int64_t others = total - n;
    const int64_t cap = c == last ? (k - run) + int64_t{k} * others : int64_t{k} * (others + 1);
    if (n > cap) return false;
  }
  return true;
}

// Orders trials randomly; with max_run > 0 no more than max_run trials of one planned
// condition follow each other. Each step draws uniformly among the remaining trials whose
// condition keeps the rest feasible.
std::vector<PlannedTrial> order_block(std::vector<PlannedTrial> trials, int max_run, Rng& rng,
                                      const Where& where, const std::string& block_name) {
  rng.shuffle(trials);
  if (max_run <= 0 || trials.empty()) return trials;
  std::map<std::string, std::vector<PlannedTrial>> pools;
  for (auto& t : trials) pools[t.planned_condition].push_back(std::move(t));
  std::map<std::string, int> rem;
  for (const auto& [c, v] : pools) rem[c] = static_cast<int>(v.size());
  if (!feasible(rem, "", 0, max_run))
    throw ExperimentError(where.file, where.line,
                          block_name + ": max_run = " + std::to_string(max_run) +
                              " cannot hold for these condition counts; raise max_run or add conditions/references");
  std::vector<PlannedTrial> out;
  std::string last;
  int run = 0;
  while (out.size() < trials.size()) {
    std::vector<std::string> ok;
    int weight = 0;
    for (const auto& [c, n] : rem) {
      if (n == 0 || (c == last && run >= max_run)) continue;
      auto after = rem;
      --after[c];
      if (!feasible(after, c, c == last ? run + 1 : 1, max_run)) continue;
      ok.push_back(c);
      weight += n;
    }
    if (ok.empty())  // cannot happen when feasible() held before; kept as a guard
      throw std::logic_error("order_block: no feasible condition");
    int64_t pick = static_cast<int64_t>(rng.below(static_cast<uint64_t>(weight)));
    std::string chosen;
    for (const auto& c : ok) {
      if (pick < rem[c]) {
        chosen = c;
        break;
      }
      pick -= rem[c];
    }
    auto& pool = pools[chosen];
    out.push_back(std::move(pool.back()));
    pool.pop_back();
    --rem[chosen];
    run = chosen == last ? run + 1 : 1;
    last = chosen;
  }
  return out;
}

// [SECTION] Blocks ------------------------------------------------------------------------
PlannedTrial natural_trial(const Stimulus& s, const std::string& phase, const Block& b) {
  PlannedTrial t;
  t.block_kind = block_kind_name(b.kind);
  t.phase = phase;
  t.condition = t.planned_condition = "natural";
  t.category = s.category;
  t.reference = s.path;
  t.stimulus = s.path;
  t.stimulus_sha256 = s.sha256;
  t.feedback = b.feedback;
  t.timing = b.timing;
  return t;
}

// `n` categories cycling through the alternatives, each cycle in a fresh random order.
std::vector<const Alternative*> catch_categories(const Experiment& e, int n, Rng& rng) {
  std::vector<const Alternative*> out, cycle;
  while (static_cast<int>(out.size()) < n) {
    cycle.clear();
    for (const auto& a : e.alternatives) cycle.push_back(&a);
    rng.shuffle(cycle);
    for (const auto* a : cycle)
      if (static_cast<int>(out.size()) < n) out.push_back(a);
  }
  return out;
}

PlannedTrial icon_trial(const Alternative& a, const Block& b) {
  PlannedTrial t;
  t.block_kind = block_kind_name(b.kind);
  t.phase = "catch";
  t.condition = t.planned_condition = "catch";
  t.category = a.name;
  t.stimulus = a.icon;
  t.feedback = b.feedback;
  t.timing = b.timing;
  return t;
}

// `n` items (all when n < 0), spread evenly over categories, in random order. Items not
// in `used` (drawn by an earlier block) come first; the drawn ones are added to it.
std::vector<const Stimulus*> balanced_pick(const StimulusSet& s, int n, Rng& rng, std::set<std::string>& used) {
  std::map<std::string, std::vector<const Stimulus*>> by_cat;
  for (const auto& it : s.items) by_cat[it.category].push_back(&it);
  std::vector<std::vector<const Stimulus*>> cats;
  for (auto& [c, v] : by_cat) {
    rng.shuffle(v);
    std::stable_partition(v.begin(), v.end(), [&](const Stimulus* x) { return !used.count(x->path); });
    cats.push_back(v);
  }
  rng.shuffle(cats);
  const size_t want = n < 0 ? s.items.size() : static_cast<size_t>(n);
  std::vector<const Stimulus*> out;
  for (size_t round = 0; out.size() < want; ++round) {
    bool any = false;
    for (auto& c : cats)
      if (round < c.size() && out.size() < want) out.push_back(c[round]), any = true;
    if (!any) break;
  }
  for (const auto* x : out) used.insert(x->path);
  return out;
}

std::string block_label(const Block& b, int i) {
  return "block " + std::to_string(i + 1) + " (" + b.name + ")";
}

std::vector<PlannedTrial> plan_main(const Experiment& e, const Block& b, int bi, int64_t participant,
                                    uint64_t seed, PlannedBlock& pb, std::set<std::string>& used) {
  const StimulusSet& set = *e.find_set(b.set);
  std::vector<std::string> conds = b.conditions;
  if (conds.empty())
    for (const auto& c : e.conditions) conds.push_back(c.name);
  const int64_t nc = static_cast<int64_t>(conds.size());
  pb.conditions = conds;
  pb.rotation_offset = static_cast<int>((participant - 1) % nc);
  pb.rotation_group = static_cast<int>((participant - 1) / nc);
  pb.max_run = b.max_run;

  // The design order: categories in name order, references shuffled within each category
  // by the design seed and rotation group (so the whole group shares one order).
  std::map<std::string, std::vector<const Stimulus*>> by_cat;
  for (const auto& it : set.items) by_cat[it.category].push_back(&it);
  std::vector<const Stimulus*> order;
  for (auto& [cat, v] : by_cat) {
    Rng r(mix({e.seed, static_cast<uint64_t>(pb.rotation_group), static_cast<uint64_t>(bi), hash_text(cat)}));
    r.shuffle(v);
    order.insert(order.end(), v.begin(), v.end());
  }
  std::vector<PlannedTrial> trials;
  for (size_t k = 0; k < order.size(); ++k) {
    const Stimulus& ref = *order[k];
    const Condition& c = *e.find_condition(conds[(k + pb.rotation_offset) % nc]);
    PlannedTrial t = natural_trial(ref, "main", b);
    t.planned_condition = c.name;
    if (!c.natural && e.sources[static_cast<size_t>(c.source)].live) {
      // Made during the session: the runner asks the live worker for it.
      t.condition = c.name;
      t.stimulus.clear();
      t.stimulus_sha256.clear();
      t.model = c.model;
      t.layer = c.layer;
      t.is_metamer = true;
      t.live = true;
    } else if (!c.natural) {
      auto m = e.metamers.find(ref.path);
      if (m != e.metamers.end() && m->second.count(c.name)) {
        const MetamerFile& f = m->second.at(c.name);
        t.condition = c.name;
        t.stimulus = f.path;
        t.stimulus_sha256 = f.sha256;
        t.model = c.model;
        t.layer = c.layer;
        t.is_metamer = true;
      } else {
        t.fell_back = true;  // shown natural; planned_condition keeps the assignment
      }
    }
    trials.push_back(t);
  }
  Rng r(mix({seed, static_cast<uint64_t>(participant), static_cast<uint64_t>(bi), hash_text("catch")}));
  if (b.catch_set.empty()) {
    for (const auto* a : catch_categories(e, b.catch_trials, r)) trials.push_back(icon_trial(*a, b));
  } else if (b.catch_trials > 0) {
    const StimulusSet& cs = *e.find_set(b.catch_set);
    if (b.catch_trials > static_cast<int>(cs.items.size()))
      throw ExperimentError(e.file, b.lines.count("catch") ? b.lines.at("catch") : b.where.line,
                            block_label(b, bi) + ": catch = " + std::to_string(b.catch_trials) + " but catch_set \"" +
                                b.catch_set + "\" has only " + std::to_string(cs.items.size()) + " stimuli; lower catch or add stimuli");
    for (const auto* s : balanced_pick(cs, b.catch_trials, r, used)) {
      PlannedTrial t = natural_trial(*s, "catch", b);
      t.condition = t.planned_condition = "catch";
      trials.push_back(t);
    }
  }
  Rng order_rng(mix({seed, static_cast<uint64_t>(participant), static_cast<uint64_t>(bi), hash_text("order")}));
  return order_block(std::move(trials), b.max_run, order_rng, {e.file, b.lines.count("max_run") ? b.lines.at("max_run") : b.where.line},
                     block_label(b, bi));
}

std::vector<PlannedTrial> plan_drawn(const Experiment& e, const Block& b, int bi, int64_t participant, uint64_t seed,
                                     std::set<std::string>& used) {
  Rng r(mix({seed, static_cast<uint64_t>(participant), static_cast<uint64_t>(bi), hash_text("draw")}));
  std::vector<PlannedTrial> trials;
  const std::string phase = block_kind_name(b.kind);
  if (b.kind == BlockKind::catch_trials && e.modality == Modality::image) {
    const int n = b.trials > 0 ? b.trials : static_cast<int>(e.alternatives.size());
    for (const auto* a : catch_categories(e, n, r)) trials.push_back(icon_trial(*a, b));
  } else {
    const StimulusSet& set = *e.find_set(b.set);
    if (b.trials > static_cast<int>(set.items.size()))
      throw ExperimentError(e.file, b.lines.count("trials") ? b.lines.at("trials") : b.where.line,
                            block_label(b, bi) + ": trials = " + std::to_string(b.trials) + " but set \"" + b.set +
                                "\" has only " + std::to_string(set.items.size()) + " stimuli; lower trials or add stimuli");
    // An audio catch block defaults, like an image one, to one clip per alternative.
    const int n = b.kind == BlockKind::catch_trials && b.trials < 0 ? static_cast<int>(e.alternatives.size()) : b.trials;
    for (const auto* s : balanced_pick(set, n, r, used)) {
      PlannedTrial t = natural_trial(*s, phase, b);
      if (b.kind == BlockKind::catch_trials) t.condition = t.planned_condition = "catch";
      trials.push_back(t);
    }
  }
  r.shuffle(trials);
  return trials;
}

// The headphone check (Woods et al. 2017): kHeadphoneTrials trials of three tones, the
// quiet one (Q, -6 dB) twice in each position, the antiphase one (A) in one of the other
// two at random, the third normal (N). The answer (category) is the quiet tone's position
// "1".."3"; the order is kept in `layer` (e.g. "NAQ") and `model` names the test. Each
// trial's stimulus phase is the three 1 s tones with 0.5 s gaps.
std::vector<PlannedTrial> plan_headphone_check(const Block& b, int bi, int64_t participant, uint64_t seed) {
  Rng r(mix({seed, static_cast<uint64_t>(participant), static_cast<uint64_t>(bi), hash_text("headphones")}));
  std::vector<int> quiet;
  for (int k = 0; k < kHeadphoneTrials; ++k) quiet.push_back(k % 3);
  r.shuffle(quiet);
  std::vector<PlannedTrial> trials;
  for (int q : quiet) {
    std::string order = "NNN";
    order[static_cast<size_t>(q)] = 'Q';
    const int others[2] = {(q + 1) % 3, (q + 2) % 3};
    order[static_cast<size_t>(others[r.below(2)])] = 'A';
    PlannedTrial t;
    t.block_kind = t.phase = block_kind_name(b.kind);
    t.condition = t.planned_condition = "headphone_check";
    t.category = std::to_string(q + 1);
    t.model = "woods2017-antiphase";
    t.layer = order;
    t.timing = b.timing;
    t.timing.fixation_ms = 0;
    t.timing.stimulus_ms = 3 * 1000 + 2 * 500;
    t.timing.mask_ms = 0;
    t.timing.response_ms = 0;
    trials.push_back(t);
  }
  return trials;
}

}  // namespace

// [SECTION] make_plan ---------------------------------------------------------------------
Plan make_plan(const Experiment& e, int64_t participant, uint64_t seed) {
  if (participant < 1)
    throw std::invalid_argument("participant number " + std::to_string(participant) + " must be 1 or more");
  Plan p;
  p.experiment_name = e.name;
  p.experiment_path = e.path;
  p.experiment_dir = e.dir;
  p.experiment_sha256 = e.sha256;
  p.modality = e.modality;
  p.participant = participant;
  p.seed = seed;
  p.design_seed = e.seed;
  for (const auto& c : e.conditions) p.conditions.push_back(c.name);
  for (const auto& a : e.alternatives) p.alternatives.push_back({a.name, a.icon});
  std::set<std::string> used;  // stimuli drawn so far: later draws prefer others
  for (size_t bi = 0; bi < e.blocks.size(); ++bi) {
    const Block& b = e.blocks[bi];
    PlannedBlock pb;
    pb.index = static_cast<int>(bi);
    pb.kind = b.kind;
    pb.name = b.name;
    pb.text = b.text;
    pb.feedback = b.feedback;
    pb.pass_min_correct = b.pass_min_correct;
    pb.fail_text = b.fail_text;
    pb.break_every = b.break_every;
    pb.break_text = b.break_text;
    pb.timing = b.timing;
    pb.first_trial = static_cast<int>(p.trials.size());
    std::vector<PlannedTrial> trials;
    if (b.kind == BlockKind::main) trials = plan_main(e, b, static_cast<int>(bi), participant, seed, pb, used);
    else if (b.kind == BlockKind::practice || b.kind == BlockKind::demo || b.kind == BlockKind::catch_trials)
      trials = plan_drawn(e, b, static_cast<int>(bi), participant, seed, used);
    else if (b.kind == BlockKind::headphone_check)
      trials = plan_headphone_check(b, static_cast<int>(bi), participant, seed);
    for (size_t k = 0; k < trials.size(); ++k) {
      PlannedTrial& t = trials[k];
      t.index = static_cast<int>(p.trials.size());
      t.block = static_cast<int>(bi);
      t.index_in_block = static_cast<int>(k);
      t.break_before = b.break_every > 0 && k > 0 && k % static_cast<size_t>(b.break_every) == 0;
      p.trials.push_back(t);
    }
    pb.trials = static_cast<int>(trials.size());
    p.blocks.push_back(pb);
  }
  return p;
}

// [SECTION] JSON --------------------------------------------------------------------------
namespace {

json timing_json(const Timing& t) {
  return {{"fixation_ms", t.fixation_ms}, {"stimulus_ms", t.stimulus_ms}, {"mask_ms", t.mask_ms},
          {"response_ms", t.response_ms}, {"iti_ms", t.iti_ms}};
}

Timing timing_from(const json& j) {
  Timing t;
  t.fixation_ms = j.at("fixation_ms").get<int>();
  t.stimulus_ms = j.at("stimulus_ms").get<int>();
  t.mask_ms = j.at("mask_ms").get<int>();
  t.response_ms = j.at("response_ms").get<int>();
  t.iti_ms = j.at("iti_ms").get<int>();
  return t;
}

BlockKind kind_from(const std::string& s) {
  for (BlockKind k : {BlockKind::instructions, BlockKind::practice, BlockKind::demo, BlockKind::main,
                      BlockKind::catch_trials, BlockKind::pause, BlockKind::debrief, BlockKind::headphone_check})
    if (s == block_kind_name(k)) return k;
  throw std::runtime_error("plan JSON: unknown block kind \"" + s + "\"");
}

}  // namespace

std::string plan_to_json(const Plan& p, int indent) {
  auto rel = [&](const std::string& path) { return path.empty() ? path : detail::relative_to(path, p.experiment_dir); };
  json j;
  j["format"] = "metamerlab-plan/1";
  j["experiment"] = {{"name", p.experiment_name}, {"file", fs::path(p.experiment_path).filename().string()},
                     {"sha256", p.experiment_sha256}, {"modality", modality_name(p.modality)}};
  j["participant"] = p.participant;
  j["seed"] = p.seed;
  j["design_seed"] = p.design_seed;
  j["conditions"] = p.conditions;
  json alts = json::array();
  for (const auto& a : p.alternatives) alts.push_back({{"name", a.name}, {"icon", rel(a.icon)}});
  j["alternatives"] = alts;
  json blocks = json::array();
  for (const auto& b : p.blocks) {
    json x = {{"index", b.index}, {"kind", block_kind_name(b.kind)}, {"name", b.name}, {"text", b.text},
              {"first_trial", b.first_trial}, {"trials", b.trials}, {"feedback", b.feedback},
              {"pass_min_correct", b.pass_min_correct}, {"fail_text", b.fail_text}, {"break_every", b.break_every},
              {"break_text", b.break_text}, {"timing", timing_json(b.timing)}, {"conditions", b.conditions},
              {"rotation_offset", b.rotation_offset}, {"rotation_group", b.rotation_group}, {"max_run", b.max_run}};
    blocks.push_back(x);
  }
  j["blocks"] = blocks;
  json trials = json::array();
  for (const auto& t : p.trials) {
    trials.push_back({{"index", t.index}, {"block", t.block}, {"index_in_block", t.index_in_block},
                      {"block_kind", t.block_kind}, {"phase", t.phase}, {"condition", t.condition},
                      {"planned_condition", t.planned_condition}, {"category", t.category},
                      {"reference", rel(t.reference)}, {"stimulus", rel(t.stimulus)},
                      {"stimulus_sha256", t.stimulus_sha256}, {"model", t.model}, {"layer", t.layer},
                      {"is_metamer", t.is_metamer}, {"live", t.live}, {"fell_back", t.fell_back}, {"feedback", t.feedback},
                      {"break_before", t.break_before}, {"timing", timing_json(t.timing)}});
  }
  j["trials"] = trials;
  return j.dump(indent);
}

Plan plan_from_json(const std::string& text, const std::string& experiment_dir) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) throw std::runtime_error("plan JSON: not a JSON object");
  if (j.value("format", "") != "metamerlab-plan/1")
    throw std::runtime_error("plan JSON: format is not metamerlab-plan/1");
  auto abs = [&](const std::string& r) { return r.empty() ? r : detail::resolve_path(experiment_dir, r); };
  Plan p;
  try {
    const json& x = j.at("experiment");
    p.experiment_name = x.at("name").get<std::string>();
    p.experiment_dir = fs::absolute(experiment_dir).lexically_normal().string();
    p.experiment_path = abs(x.at("file").get<std::string>());
    p.experiment_sha256 = x.at("sha256").get<std::string>();
    p.modality = x.at("modality").get<std::string>() == "audio" ? Modality::audio : Modality::image;
    p.participant = j.at("participant").get<int64_t>();
    p.seed = j.at("seed").get<uint64_t>();
    p.design_seed = j.at("design_seed").get<uint64_t>();
    p.conditions = j.at("conditions").get<std::vector<std::string>>();
    for (const auto& a : j.at("alternatives"))
      p.alternatives.push_back({a.at("name").get<std::string>(), abs(a.at("icon").get<std::string>())});
    for (const auto& b : j.at("blocks")) {
      PlannedBlock pb;
      pb.index = b.at("index").get<int>();
      pb.kind = kind_from(b.at("kind").get<std::string>());
      pb.name = b.at("name").get<std::string>();
      pb.text = b.at("text").get<std::string>();
      pb.first_trial = b.at("first_trial").get<int>();
      pb.trials = b.at("trials").get<int>();
      pb.feedback = b.at("feedback").get<bool>();
      pb.pass_min_correct = b.at("pass_min_correct").get<int>();
      pb.fail_text = b.at("fail_text").get<std::string>();
      pb.break_every = b.at("break_every").get<int>();
      pb.break_text = b.at("break_text").get<std::string>();
      pb.timing = timing_from(b.at("timing"));
      pb.conditions = b.at("conditions").get<std::vector<std::string>>();
      pb.rotation_offset = b.at("rotation_offset").get<int>();
      pb.rotation_group = b.at("rotation_group").get<int>();
      pb.max_run = b.at("max_run").get<int>();
      p.blocks.push_back(pb);
    }
    for (const auto& t : j.at("trials")) {
      PlannedTrial x2;
      x2.index = t.at("index").get<int>();
      x2.block = t.at("block").get<int>();
      x2.index_in_block = t.at("index_in_block").get<int>();
      x2.block_kind = t.at("block_kind").get<std::string>();
      x2.phase = t.at("phase").get<std::string>();
      x2.condition = t.at("condition").get<std::string>();
      x2.planned_condition = t.at("planned_condition").get<std::string>();
      x2.category = t.at("category").get<std::string>();
      x2.reference = abs(t.at("reference").get<std::string>());
      x2.stimulus = abs(t.at("stimulus").get<std::string>());
      x2.stimulus_sha256 = t.at("stimulus_sha256").get<std::string>();
      x2.model = t.at("model").get<std::string>();
      x2.layer = t.at("layer").get<std::string>();
      x2.is_metamer = t.at("is_metamer").get<bool>();
      x2.live = t.value("live", false);  // plans stored before live generation have none
      x2.fell_back = t.at("fell_back").get<bool>();
      x2.feedback = t.at("feedback").get<bool>();
      x2.break_before = t.at("break_before").get<bool>();
      x2.timing = timing_from(t.at("timing"));
      p.trials.push_back(x2);
    }
  } catch (const json::exception& err) {
    throw std::runtime_error(std::string("plan JSON: ") + err.what());
  }
  return p;
}

// [SECTION] Summary -----------------------------------------------------------------------
PlanSummary summarize_plan(const Plan& p, double assumed_rt_ms, double screen_s) {
  PlanSummary s;
  for (const auto& b : p.blocks) {
    BlockSummary bs;
    bs.index = b.index;
    bs.kind = block_kind_name(b.kind);
    bs.name = b.name;
    bs.trials = b.trials;
    const bool screen = b.kind == BlockKind::instructions || b.kind == BlockKind::pause || b.kind == BlockKind::debrief;
    double ms = screen || !b.text.empty() ? screen_s * 1000 : 0;
    for (int i = b.first_trial; i < b.first_trial + b.trials; ++i) {
      const PlannedTrial& t = p.trials[i];
      bs.by_condition[t.planned_condition]++;
      bs.fell_back += t.fell_back ? 1 : 0;
      bs.breaks += t.break_before ? 1 : 0;
      const Timing& x = t.timing;
      const double rt = x.response_ms > 0 ? std::min<double>(x.response_ms, assumed_rt_ms) : assumed_rt_ms;
      ms += x.fixation_ms + x.stimulus_ms + (p.modality == Modality::image ? x.mask_ms : 0) + rt + x.iti_ms +
            (t.feedback ? 1000 : 0) + (t.break_before ? screen_s * 1000 : 0);
    }
    bs.seconds = ms / 1000.0;
    s.trials += bs.trials;
    s.seconds += bs.seconds;
    s.blocks.push_back(bs);
  }
  return s;
}

std::string format_duration(double seconds) {
  const long long t = static_cast<long long>(seconds + 0.5);
  std::ostringstream o;
  if (t >= 3600) o << t / 3600 << " h " << (t % 3600) / 60 << " min";
  else if (t >= 60) o << t / 60 << " min " << t % 60 << " s";
  else o << t << " s";
  return o.str();
}

}  // namespace mm::experiments
