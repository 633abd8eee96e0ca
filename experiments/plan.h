// experiments: trial planning. A session's whole trial list is a pure function of the
// loaded experiment, the participant number and a seed, so it can be printed without a
// display, stored with the session as JSON, and followed again on resume.
//
// How the main blocks are planned (as in Feather et al.'s experiments): each participant
// sees each reference once, in one condition (natural or a model × layer metamer).
// References are ordered by category (shuffled within each category with the design seed
// and the rotation group), the k-th reference gets condition (k + participant - 1) mod C,
// so within a participant the conditions' counts differ by at most one (also within each
// category), and over a rotation group of C consecutive participant numbers every
// reference appears in every condition exactly once. A reference whose metamer failed or
// is missing is shown natural and marked fell_back. Trials are shuffled within the block
// (seeded by the session seed and the participant), optionally with at most max_run trials
// of one planned condition in a row. Practice, demo and catch-clip draws spread evenly over
// categories and prefer stimuli no earlier block of the session drew.
//
// Sections
//   [SECTION] Plan          PlannedTrial, PlannedBlock, Plan, make_plan
//   [SECTION] JSON          plan_to_json, plan_from_json
//   [SECTION] Summary       per-block counts and the estimated duration
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "experiments/experiment.h"

namespace mm::experiments {

// [SECTION] Plan --------------------------------------------------------------------------
struct PlannedTrial {
  int index = 0;             // position in the whole plan (what the database keys on)
  int block = 0;             // index into Plan::blocks
  int index_in_block = 0;
  std::string block_kind;    // practice | demo | main | catch
  std::string phase;         // the trial's own kind: practice | demo | main | catch
  std::string condition;     // shown: natural | LABEL/LAYER | catch
  std::string planned_condition;  // assigned (differs from condition when fell_back)
  std::string category;      // the correct answer
  std::string reference;     // the natural reference ("" for catch trials); absolute
  std::string stimulus, stimulus_sha256;  // what is shown or played; absolute
  std::string model, layer;  // of a shown metamer
  bool is_metamer = false;
  bool live = false;         // a live source's metamer: made during the session (stimulus "" until then)
  bool fell_back = false;
  bool feedback = false;
  bool break_before = false; // a break screen comes before this trial
  Timing timing;             // requested ms (the runner converts to frames)
};

struct PlannedBlock {
  int index = 0;
  BlockKind kind = BlockKind::main;
  std::string name, text;
  int first_trial = 0, trials = 0;
  bool feedback = false;
  int pass_min_correct = 0;
  std::string fail_text;
  int break_every = 0;
  std::string break_text;
  Timing timing;
  // Main blocks: the conditions rotated over, this participant's offset and group.
  std::vector<std::string> conditions;
  int rotation_offset = 0, rotation_group = 0;
  int max_run = 0;
};

struct PlanAlternative {
  std::string name, icon;  // icon absolute ("" for audio)
};

struct Plan {
  std::string experiment_name, experiment_path, experiment_dir, experiment_sha256;
  Modality modality = Modality::image;
  int64_t participant = 1;
  uint64_t seed = 0;         // session seed: shuffles and draws
  uint64_t design_seed = 0;  // the experiment's seed: Latin-square assignment
  std::vector<std::string> conditions;  // every condition of the experiment
  std::vector<PlanAlternative> alternatives;
  std::vector<PlannedBlock> blocks;
  std::vector<PlannedTrial> trials;
};

// Plans a session. participant >= 1 (throws std::invalid_argument otherwise). Throws
// ExperimentError when a block cannot be planned (too few stimuli, max_run impossible).
Plan make_plan(const Experiment& e, int64_t participant, uint64_t seed);
// The session seed when none is given: the experiment's seed.
inline Plan make_plan(const Experiment& e, int64_t participant) { return make_plan(e, participant, e.seed); }

// [SECTION] JSON --------------------------------------------------------------------------
// One JSON object (keys sorted, so equal plans give equal text). Paths are written
// relative to the experiment's folder, so the text does not depend on where it is planned.
std::string plan_to_json(const Plan& p, int indent = -1);
// Reads plan_to_json's text back; relative paths are resolved against experiment_dir.
// Throws std::runtime_error on malformed text.
Plan plan_from_json(const std::string& text, const std::string& experiment_dir);

// [SECTION] Summary -----------------------------------------------------------------------
struct BlockSummary {
  int index = 0;
  std::string kind, name;
  int trials = 0, breaks = 0, fell_back = 0;
  std::map<std::string, int> by_condition;  // planned condition -> trials
  double seconds = 0;                       // estimated
};

struct PlanSummary {
  std::vector<BlockSummary> blocks;
  int trials = 0;
  double seconds = 0;
};

// Estimated durations: each trial's phases as requested, plus the response (the response
// window, or assumed_rt_ms when shorter or unlimited), plus 1 s of feedback when given;
// each text screen (instructions, break, debrief, a trial block's intro text) and each
// in-block break counts screen_s.
PlanSummary summarize_plan(const Plan& p, double assumed_rt_ms = 1500, double screen_s = 30);
// A duration for people: "1 h 2 min", "3 min 4 s", "5 s".
std::string format_duration(double seconds);

}  // namespace mm::experiments
