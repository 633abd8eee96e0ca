// data/merge.h: combining the databases of a sharded synthesis (metamerlab synth --shard
// K/N, each shard with its own --db) into one store: what `metamerlab merge` runs.
//
// What a merge guarantees:
//   - every input is checked first (a metamerlab database, PRAGMA integrity_check "ok", only
//     synthesis records: models, synthesis runs, null distributions, metamers), and so is
//     every file its metamers name (present, with the SHA-256 recorded);
//   - models and null distributions are matched by their keys, synthesis runs by their
//     provenance (model, options, output folder, command, start time) and added once, with
//     new ids (the metamers' run and null ids remapped);
//   - a metamer is keyed by its run's options (model SHA-256, schedule, seed, batch, ...),
//     its reference's SHA-256 and its layer: the same key with the same content (files'
//     SHA-256, measures, predictions, loss curve) is recorded once; the same key with other
//     content is refused, naming both databases;
//   - parts of null distributions (null --shard K/N) are matched by key, block count and unit
//     like null distributions; once every input is in, each distribution whose parts are all
//     present is recorded whole (combine_null_parts), so synth and null find it in the cache;
//   - everything is one transaction on OUT: an error (or a kill) leaves OUT as it was, and
//     an OUT that did not exist before is removed again. Merging again changes nothing.
// No torch, no UI. Errors throw std::runtime_error, one line naming the file.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace mm::data {

struct MergeReport {
  int inputs = 0;
  int64_t models_added = 0, models_present = 0;
  int64_t nulls_added = 0, nulls_present = 0;
  int64_t null_parts_added = 0, null_parts_present = 0;  // null --shard K/N
  int64_t nulls_completed = 0;                           // null distributions made whole from their parts
  int64_t runs_added = 0, runs_present = 0;
  int64_t metamers_added = 0, metamers_present = 0;  // present: already in OUT (or in an earlier input)
  int64_t files_checked = 0;                         // distinct files hashed
};

// Merges the shard databases `inputs` into `out` (created when missing). Throws, changing
// nothing, on the first problem.
MergeReport merge_stores(const std::string& out, const std::vector<std::string>& inputs);

}  // namespace mm::data
