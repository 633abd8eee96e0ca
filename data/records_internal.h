// data/records_internal.h: record readers shared by the store's translation units (not part
// of the store's API): one metamers row into a MetamerRecord, for every query that lists
// metamers (store_records.cpp, library.cpp).
#pragma once
#include "data/sqlite_util.h"
#include "data/store.h"

namespace mm::data::detail {

// The metamers columns in MetamerRecord order (MM_METAMER_COLUMNS of store_records.cpp: ...,
// wall_s, converged or -1, loss_curve), starting at column c.
MetamerRecord read_metamer(const Stmt& s, int c);

}  // namespace mm::data::detail
