// app/studio_detail.h (internal to the workbench's Stimuli panel, app/studio_library.cpp):
// what the detail view shows of a selected metamer beyond its images and measures:
//   - its loss curve (MetamerRecord::loss_curve_json, "[[step, loss], ...]"), drawn as a plot
//     with axes, step and loss labels, a logarithmic loss axis when the curve spans more
//     than a decade, the final loss and whether it converged; a record older than schema
//     v4 ("[]") says so in one line;
//   - for audio metamers, "Play reference" and "Play metamer" through OpenAL (app/audio.h:
//     the device is opened at the first Play; no device is one line, not a failure) and both
//     cochleagrams as images, computed on a background thread by the function the program
//     layer gives (StudioOptions::cochleagram: torch is not linked into app/) and cached by
//     file SHA-256, path and model.
#pragma once
#include <cstdint>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "app/audio.h"
#include "app/display.h"
#include "app/studio.h"
#include "data/library.h"

namespace mm::app::studio {

// A loss curve read from its JSON: the points with a finite loss, in order; `error` says why
// the text could not be read ("" when it could; an empty curve is not an error).
struct LossCurve {
  std::vector<std::pair<int64_t, double>> points;
  std::string error;
};
LossCurve parse_loss_curve(const std::string& json);

// Colours a cochleagram (rows lowest channel first) as RGBA8 pixels, top row the highest
// channel: dark for silence, bright for the loudest envelope.
std::vector<uint8_t> cochleagram_rgba(const StudioCochleagram& c);

class MetamerDetail {
 public:
  static constexpr size_t kMaxCochleagrams = 32;  // textures kept (about 10 MB at 211 x 390)

  explicit MetamerDetail(Display& d) : d_(d) {}
  // Waits for a cochleagram being computed, releases the textures, closes the sound device.
  ~MetamerDetail();
  MetamerDetail(const MetamerDetail&) = delete;
  MetamerDetail& operator=(const MetamerDetail&) = delete;

  void set_cochleagram(StudioCochleagramFn f) { coch_fn_ = std::move(f); }
  // The metamer shown, read in full with its curve (nullopt: none, or not read yet).
  void set_record(const std::optional<data::LibraryMetamer>& m);
  int64_t record_id() const { return record_ ? record_->id : 0; }

  // The loss curve of the metamer read by set_record (a line while it is being read).
  void draw_loss_curve(int64_t selected, float scale, StudioProbe& p);
  // Play buttons and cochleagrams of an audio metamer.
  void draw_audio(const data::LibraryMetamer& m, float scale, StudioProbe& p);

 private:
  struct Coch {
    std::future<StudioCochleagram> job;  // valid while queued or computing
    bool started = false, done = false;
    Texture tex;
    std::string source, error;
    int64_t used = 0;  // the frame it was last drawn
  };
  void plot(const LossCurve& c, const data::MetamerRecord& m, float scale, StudioProbe& p);
  // The cochleagram of a file, queued at its first call (no texture while it is computed or
  // when it failed: see done and error).
  Coch& cochleagram(const std::string& path, const std::string& sha256, const std::string& model);
  void poll_cochleagrams();
  void play(const std::string& path);

  Display& d_;
  std::optional<data::LibraryMetamer> record_;
  LossCurve curve_;
  StudioCochleagramFn coch_fn_;
  std::map<std::string, Coch> coch_;  // key: SHA-256 | path | model
  int64_t frame_ = 0;
  std::unique_ptr<AudioOutput> audio_;
  Sound sound_;                       // the sound loaded last (one plays at a time)
  std::string audio_status_;
  bool audio_ok_ = true;              // audio_status_ is news, not a failure
  int played_ = 0;
};

}  // namespace mm::app::studio
