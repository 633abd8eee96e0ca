// Tests of the stimulus library's query (data/library.h): every metamer of every synthesis
// run with its model's spec, every field read back, ordered by model, layer, category and
// reference, live metamers made for sessions left out, and an empty database listing none;
// one metamer by id with its loss curve ("[]" when none was recorded), none for a live or
// unknown id.
#include "data/library.h"

#include <gtest/gtest.h>

#include "tests/data/store_fixtures.h"
#include "tests/testutil.h"

namespace {

using namespace mm::data;
using namespace mm::data::testing;

TEST(StoreLibrary, EveryMetamerWithItsModelInGridOrderLiveOnesLeftOut) {
  mm::test::TempDir tmp("store-library");
  Store s(tmp / "l.db");
  EXPECT_TRUE(library_metamers(s).empty());

  const int64_t model_b = s.upsert_model(sample_model("b"));
  const int64_t model_a = s.upsert_model(sample_model("a"));
  const int64_t run_b = s.begin_synth_run(sample_run(model_b));
  const int64_t run_a = s.begin_synth_run(sample_run(model_a, R"({"seed":2})"));
  MetamerRecord m1 = sample_metamer(run_b, 1), m2 = sample_metamer(run_a, 2), m3 = sample_metamer(run_a, 7);
  m1.converged = 1;
  m2.converged = 0;
  m3.layer = m2.layer;
  m3.category = "cat";  // sorts before dog2 within model a's layer
  m2.loss_curve_json = "[[0,2.5],[10,0.25],[20,0.0125]]";
  const int64_t id1 = s.add_metamer(m1), id2 = s.add_metamer(m2), id3 = s.add_metamer(m3);

  // A live metamer of a session: not part of the library.
  SessionRecord sr;
  sr.participant_code = "P1";
  sr.participant_number = 1;
  sr.experiment_path = "/e.toml";
  sr.experiment_sha256 = "e";
  sr.experiment_name = "e";
  sr.plan_json = "{}";
  sr.planned_trials = 1;
  sr.display_json = sr.audio_json = "{}";
  const int64_t session = s.create_session(sr);
  const int64_t live = s.add_live_metamer(session, 0, 0, sample_metamer(run_a, 9));

  const auto lib = library_metamers(s);
  ASSERT_EQ(lib.size(), 3u);
  EXPECT_EQ(lib[0].id, id3);  // zoo:alexnet-a, conv2, cat
  EXPECT_EQ(lib[1].id, id2);  // zoo:alexnet-a, conv2, dog2
  EXPECT_EQ(lib[2].id, id1);  // zoo:alexnet-b
  EXPECT_EQ(lib[0].model_spec, "zoo:alexnet-a");
  EXPECT_EQ(lib[2].model_spec, "zoo:alexnet-b");
  expect_same(lib[1].metamer, m2);
  expect_same(lib[2].metamer, m1);
  EXPECT_EQ(lib[1].metamer.converged, 0);
  EXPECT_EQ(lib[2].metamer.converged, 1);
  EXPECT_EQ(lib[0].metamer.category, "cat");
  EXPECT_EQ(lib[1].metamer.loss_curve_json, "");  // the grid reads no curves

  // One by id, in full.
  const auto one = library_metamer(s, id2);
  ASSERT_TRUE(one.has_value());
  EXPECT_EQ(one->id, id2);
  EXPECT_EQ(one->model_spec, "zoo:alexnet-a");
  expect_same(one->metamer, m2);
  EXPECT_EQ(one->metamer.loss_curve_json, m2.loss_curve_json);
  EXPECT_EQ(library_metamer(s, id1)->metamer.loss_curve_json, "[]");
  EXPECT_FALSE(library_metamer(s, live).has_value());
  EXPECT_FALSE(library_metamer(s, 999).has_value());
}

}  // namespace
