// data/library.h: the stimulus library's query: every metamer recorded in a database with
// the model that made it, for the workbench's Stimuli panel (app/studio.h), which shows
// them as a grid of references x model x layer, and one metamer in full (with its loss curve)
// for the panel's detail view. Read-only; SQL stays in data/.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "data/store.h"

namespace mm::data {

// One recorded metamer as the library shows it: the cell's key (reference, model, layer),
// its image, pass/fail and the measures of its detail view.
struct LibraryMetamer {
  int64_t id = 0;             // metamers.id
  std::string model_spec;     // the model as named when synthesized (zoo:NAME or a path)
  MetamerRecord metamer;      // the record as stored (loss_curve_json left empty: not needed here)
};

// Every metamer of every synthesis run, by model spec, layer, category, reference path and
// id (the newest of a reference x model x layer last). Live metamers made for sessions are
// left out (they belong to a session, not to the library). Throws std::runtime_error
// naming the file for a database it cannot read.
std::vector<LibraryMetamer> library_metamers(Store& store);

// One metamer of the library by id, with its loss curve (MetamerRecord::loss_curve_json,
// "[]" for a record older than schema v4); nullopt when no metamer has this id or it is a
// live one. Throws std::runtime_error naming the file for a database it cannot read.
std::optional<LibraryMetamer> library_metamer(Store& store, int64_t id);

}  // namespace mm::data
