// data/library.cpp: the stimulus library's query (data/library.h): every metamer of every
// synthesis run with its model's spec, live metamers left out; one of them in full.
#include "data/library.h"

#include "data/records_internal.h"
#include "data/sqlite_util.h"

namespace mm::data {

// The columns both queries read: id, the model's spec, then the metamer (MM_METAMER_COLUMNS'
// order, data/records_internal.h) with CURVE (SQL text) as its loss curve column. Fixed text.
#define MM_LIBRARY_SELECT(CURVE)                                                                         \
  "SELECT m.id, mo.spec, m.run_id, m.reference_path, m.reference_sha256, m.category, m.layer, "         \
  "m.seed, m.iterations, m.final_loss, m.spearman, m.pearson, m.snr_db, m.null_spearman_max, "          \
  "m.null_pearson_max, m.null_snr_max, m.null_id, m.pred_metamer, m.pred_reference, m.passed, "         \
  "m.status, m.message, m.png_path, m.png_sha256, m.wav_path, m.wav_sha256, m.float_path, "             \
  "m.float_sha256, m.wall_s, ifnull(m.converged, -1), " CURVE                                           \
  " FROM metamers AS m JOIN synth_runs AS r ON r.id = m.run_id JOIN models AS mo ON mo.id = r.model_id " \
  "WHERE m.id NOT IN (SELECT metamer_id FROM live_metamers) "

namespace {
LibraryMetamer read_library_metamer(const detail::Stmt& s) {
  LibraryMetamer l;
  int c = 0;
  l.id = s.i64(c++);
  l.model_spec = s.text(c++);
  l.metamer = detail::read_metamer(s, c);
  return l;
}
}  // namespace

std::vector<LibraryMetamer> library_metamers(Store& store) {
  const detail::Db d{store.handle(), store.path(), 5000};
  detail::Stmt s(d,
                 MM_LIBRARY_SELECT("''")  // no loss curves: the grid draws none
                 "ORDER BY mo.spec, m.layer, m.category, m.reference_path, m.id",
                 "listing the stimulus library");
  std::vector<LibraryMetamer> out;
  while (s.step()) out.push_back(read_library_metamer(s));
  return out;
}

std::optional<LibraryMetamer> library_metamer(Store& store, int64_t id) {
  const detail::Db d{store.handle(), store.path(), 5000};
  detail::Stmt s(d, MM_LIBRARY_SELECT("ifnull(m.loss_curve, '[]')") "AND m.id = ?1",
                 "reading metamer " + std::to_string(id) + " of the stimulus library");
  s.bind(1, id);
  if (!s.step()) return std::nullopt;
  return read_library_metamer(s);
}

}  // namespace mm::data
