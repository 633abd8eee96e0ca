// app/studio_detail.cpp: the Stimuli panel's detail view of one metamer (app/studio_detail.h):
// its loss curve as a plot, and for audio metamers playing the reference and the metamer and
// their cochleagrams.
//
// Sections
//   [SECTION] Loss curve    reading the JSON, the plot
//   [SECTION] Cochleagrams  computed in the background, coloured, cached
//   [SECTION] Sound         the files read as they are and played through OpenAL
#include "app/studio_detail.h"
#include "app/studio_widgets.h"

#include <imgui.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>

#include "app/timing.h"
#include "stimuli/stimuli.h"

namespace fs = std::filesystem;

namespace mm::app::studio {

namespace {
const ImVec4 kCurve(0.40f, 0.72f, 1.0f, 1.0f);
}  // namespace

MetamerDetail::~MetamerDetail() {
  for (auto& [k, c] : coch_) {
    if (c.job.valid()) c.job.wait();
    d_.release(c.tex);
  }
  if (audio_ && sound_.id) audio_->stop(sound_), audio_->unload(sound_);
}

void MetamerDetail::set_record(const std::optional<data::LibraryMetamer>& m) {
  record_ = m;
  curve_ = m ? parse_loss_curve(m->metamer.loss_curve_json) : LossCurve{};
}

// [SECTION] Loss curve --------------------------------------------------------------------
LossCurve parse_loss_curve(const std::string& text) {
  LossCurve c;
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_array()) {
    c.error = "the loss curve is not a JSON list of [step, loss] pairs";
    return c;
  }
  for (const auto& p : j) {
    if (!p.is_array() || p.size() != 2 || !p[0].is_number() || !(p[1].is_number() || p[1].is_null())) {
      c.points.clear();
      c.error = "the loss curve holds " + p.dump().substr(0, 40) + ", not a [step, loss] pair";
      return c;
    }
    if (p[1].is_null()) continue;  // a non-finite loss (JSON has no NaN)
    const double loss = p[1].get<double>();
    if (std::isfinite(loss)) c.points.emplace_back(p[0].get<int64_t>(), loss);
  }
  return c;
}

void MetamerDetail::draw_loss_curve(int64_t selected, float scale, StudioProbe& p) {
  ImGui::Separator();
  ImGui::TextUnformatted("loss curve");
  if (!record_ || record_->id != selected) {
    ImGui::TextColored(kDim, "reading it from the database");
    p.loss_message = "reading";
    return;
  }
  if (!curve_.error.empty()) {
    ImGui::TextColored(kRed, "%s", curve_.error.c_str());
    p.loss_message = curve_.error;
  } else if (curve_.points.empty()) {
    p.loss_message = "no loss curve recorded (older database)";
    ImGui::TextColored(kDim, "%s", p.loss_message.c_str());
  } else {
    plot(curve_, record_->metamer, scale, p);
  }
}

void MetamerDetail::plot(const LossCurve& c, const data::MetamerRecord& m, float scale, StudioProbe& p) {
  const float px = d_.pixel_scale();
  const float line = ImGui::GetTextLineHeight();
  const ImVec2 size(std::max(120.0f, ImGui::GetContentRegionAvail().x), 150 * scale);
  const ImVec2 at = ImGui::GetCursorScreenPos();
  ImGui::Dummy(size);
  p.loss_plot = to_rect(at, ImVec2(at.x + size.x, at.y + size.y), px);
  p.loss_curve = c.points;

  double lo = c.points[0].second, hi = lo;
  for (const auto& [step, loss] : c.points) lo = std::min(lo, loss), hi = std::max(hi, loss);
  const bool log = lo > 0 && hi / lo > 10;  // more than a decade
  p.loss_log = log;
  const auto y_of = [&](double v) { return log ? std::log10(v) : v; };
  double y0 = y_of(lo), y1 = y_of(hi);
  if (log) y0 = std::floor(y0), y1 = std::ceil(y1);
  if (y1 - y0 < 1e-12) y0 -= 0.5 * std::max(std::abs(y0), 1e-6), y1 += 0.5 * std::max(std::abs(y1), 1e-6);
  const int64_t s0 = c.points.front().first, s1 = std::max(c.points.back().first, s0 + 1);

  // The loss labels (fraction of the height from the bottom, text): decades on a log axis,
  // else the bottom, middle and top values.
  std::vector<std::pair<double, std::string>> labels;
  if (log) {
    const int decades = static_cast<int>(y1 - y0), every = std::max(1, decades / 4);
    for (int e = static_cast<int>(y0); e <= static_cast<int>(y1); e += every)
      labels.emplace_back((e - y0) / (y1 - y0), "1e" + std::to_string(e));
  } else {
    for (int k = 0; k <= 2; ++k) labels.emplace_back(k / 2.0, fmt("%.3g", y0 + (y1 - y0) * k / 2));
  }
  float label_w = 0;
  for (const auto& [f, t] : labels) label_w = std::max(label_w, ImGui::CalcTextSize(t.c_str()).x);

  // The frame: loss labels on the left, step labels below.
  const float left = label_w + 8 * scale, bottom = line + 4 * scale;
  const ImVec2 a(at.x + left, at.y + line * 0.5f), b(at.x + size.x - 6 * scale, at.y + size.y - bottom);
  ImDrawList* dl = ImGui::GetWindowDrawList();
  const ImU32 axis = ImGui::GetColorU32(kDim), grid = ImGui::GetColorU32(ImVec4(1, 1, 1, 0.12f));
  dl->AddRectFilled(a, b, ImGui::GetColorU32(ImVec4(0, 0, 0, 0.25f)));
  const auto x_at = [&](double step) { return a.x + static_cast<float>((step - s0) / double(s1 - s0)) * (b.x - a.x); };
  const auto y_at = [&](double v) { return b.y - static_cast<float>((y_of(v) - y0) / (y1 - y0)) * (b.y - a.y); };
  for (const auto& [f, t] : labels) {
    const float y = b.y - static_cast<float>(f) * (b.y - a.y);
    const ImVec2 ts = ImGui::CalcTextSize(t.c_str());
    dl->AddText(ImVec2(a.x - ts.x - 4 * scale, y - ts.y * 0.5f), axis, t.c_str());
    dl->AddLine(ImVec2(a.x, y), ImVec2(b.x, y), grid);
  }
  dl->AddLine(ImVec2(a.x, a.y), ImVec2(a.x, b.y), axis, 1.5f * scale);
  dl->AddLine(ImVec2(a.x, b.y), ImVec2(b.x, b.y), axis, 1.5f * scale);
  for (int k = 0; k <= 2; ++k) {  // first, middle and last step
    const int64_t step = s0 + (s1 - s0) * k / 2;
    const std::string t = std::to_string(step);
    const float w = ImGui::CalcTextSize(t.c_str()).x, x = x_at(static_cast<double>(step));
    dl->AddText(ImVec2(std::clamp(x - w / 2, a.x, b.x - w), b.y + 2 * scale), axis, t.c_str());
    dl->AddLine(ImVec2(x, b.y), ImVec2(x, b.y + 3 * scale), axis);
  }
  dl->AddText(ImVec2(x_at(s0 + (s1 - s0) / 4.0) - ImGui::CalcTextSize("step").x / 2, b.y + 2 * scale), axis, "step");

  // The curve, its last point, the final loss and whether it converged.
  std::vector<ImVec2> pts;
  pts.reserve(c.points.size());
  for (const auto& [step, loss] : c.points) pts.emplace_back(x_at(static_cast<double>(step)), y_at(loss));
  dl->PushClipRect(a, b, true);
  dl->AddPolyline(pts.data(), static_cast<int>(pts.size()), ImGui::GetColorU32(kCurve), 0, 2.0f * scale);
  dl->AddCircleFilled(pts.back(), 3.5f * scale, ImGui::GetColorU32(kCurve));
  dl->PopClipRect();
  const std::string conv = m.converged == 1 ? "converged" : m.converged == 0 ? "not converged" : "convergence unknown";
  const std::string tag = "final " + fmt("%.4g", m.final_loss) + ", " + conv + (log ? " (log scale)" : "");
  const ImVec2 ts = ImGui::CalcTextSize(tag.c_str());
  dl->AddText(ImVec2(b.x - ts.x - 4 * scale, a.y + 2 * scale),
              ImGui::GetColorU32(m.converged == 1 ? kGreen : m.converged == 0 ? kYellow : kDim), tag.c_str());
}

// [SECTION] Cochleagrams ------------------------------------------------------------------
std::vector<uint8_t> cochleagram_rgba(const StudioCochleagram& c) {
  // A dark-to-bright ramp: black, violet, crimson, orange, pale yellow.
  static const float stops[5][3] = {{0.02f, 0.02f, 0.06f}, {0.28f, 0.07f, 0.46f}, {0.73f, 0.18f, 0.40f},
                                    {0.97f, 0.55f, 0.22f}, {0.99f, 0.97f, 0.72f}};
  std::vector<uint8_t> px(static_cast<size_t>(c.channels) * c.frames * 4);
  for (int r = 0; r < c.channels; ++r)
    for (int t = 0; t < c.frames; ++t) {
      float v = c.values[static_cast<size_t>(r) * c.frames + t];
      v = std::isfinite(v) ? std::clamp(v, 0.0f, 1.0f) * 4 : 0;
      const int k = std::min(3, static_cast<int>(v));
      const float f = v - k;
      uint8_t* o = &px[(static_cast<size_t>(c.channels - 1 - r) * c.frames + t) * 4];  // highest channel on top
      for (int ch = 0; ch < 3; ++ch)
        o[ch] = static_cast<uint8_t>(std::lround(255 * (stops[k][ch] + f * (stops[k + 1][ch] - stops[k][ch]))));
      o[3] = 255;
    }
  return px;
}

MetamerDetail::Coch& MetamerDetail::cochleagram(const std::string& path, const std::string& sha256,
                                               const std::string& model) {
  Coch& c = coch_[sha256 + "|" + path + "|" + model];
  c.used = frame_;
  if (!c.started && !c.done) {  // queued: started when no other one is being computed
    const bool busy = std::any_of(coch_.begin(), coch_.end(), [](const auto& e) { return e.second.started && !e.second.done; });
    if (!busy) {
      c.job = std::async(std::launch::async, coch_fn_, path, model);
      c.started = true;
    }
  }
  return c;
}

void MetamerDetail::poll_cochleagrams() {
  for (auto& [k, c] : coch_) {
    if (!c.started || c.done || c.job.wait_for(std::chrono::seconds(0)) != std::future_status::ready) continue;
    c.done = true;
    try {
      const StudioCochleagram r = c.job.get();
      if (r.channels <= 0 || r.frames <= 0 || r.values.size() != static_cast<size_t>(r.channels) * r.frames)
        throw std::runtime_error("the cochleagram came back empty");
      const std::vector<uint8_t> px = cochleagram_rgba(r);
      c.tex = d_.upload_rgba8(px.data(), r.frames, r.channels);
      c.source = r.source;
    } catch (const std::exception& e) {
      c.error = first_line(e.what());
    }
  }
  if (coch_.size() <= kMaxCochleagrams) return;  // the least recently drawn finished ones go
  std::vector<std::pair<int64_t, std::string>> old;
  for (const auto& [k, c] : coch_)
    if (c.done && c.used < frame_) old.emplace_back(c.used, k);
  std::sort(old.begin(), old.end());
  for (size_t i = 0; i < old.size() && coch_.size() > kMaxCochleagrams; ++i) {
    d_.release(coch_[old[i].second].tex);
    coch_.erase(old[i].second);
  }
}

void MetamerDetail::draw_audio(const data::LibraryMetamer& lm, float scale, StudioProbe& p) {
  ++frame_;
  const data::MetamerRecord& m = lm.metamer;
  const float px = d_.pixel_scale();
  if (ImGui::Button("Play reference")) play(m.reference_path);
  p.play_reference = item_rect(px);
  ImGui::SameLine();
  if (ImGui::Button("Play metamer")) play(m.wav_path);
  p.play_metamer = item_rect(px);
  if (audio_ && sound_.id) {
    ImGui::SameLine();
    if (ImGui::Button("Stop")) audio_->stop(sound_);
  }
  if (!audio_status_.empty()) {
    ImGui::PushTextWrapPos(0);
    ImGui::TextColored(audio_ok_ ? kDim : kRed, "%s", audio_status_.c_str());
    ImGui::PopTextWrapPos();
  }
  p.audio_status = audio_status_;
  p.played = played_;

  // The cochleagrams, side by side: the reference's, the metamer's.
  if (!coch_fn_) {
    p.cochleagram_status = "no cochleagrams: they need torch, which only the metamerlab program links";
    ImGui::TextColored(kDim, "%s", p.cochleagram_status.c_str());
    return;
  }
  poll_cochleagrams();
  const float w = (ImGui::GetContentRegionAvail().x - ImGui::GetStyle().ItemSpacing.x) / 2, h = w * 0.6f;
  std::string source, error;
  const auto image = [&](const std::string& path, const std::string& sha256, const char* label) {
    ImGui::BeginGroup();
    ImGui::TextUnformatted(label);
    Coch& c = cochleagram(path, sha256, lm.model_spec);
    const ImVec2 at = ImGui::GetCursorScreenPos();
    if (c.tex.valid()) {
      ImGui::Image(tex_id(c.tex), ImVec2(w, h));
      p.cochleagrams.push_back(to_rect(at, ImVec2(at.x + w, at.y + h), px));
      if (source.empty()) source = c.source;
    } else {
      ImGui::Dummy(ImVec2(w, h));
      ImGui::GetWindowDrawList()->AddRect(at, ImVec2(at.x + w, at.y + h), ImGui::GetColorU32(kDim));
      ImGui::GetWindowDrawList()->AddText(ImVec2(at.x + 4 * scale, at.y + 4 * scale), ImGui::GetColorU32(kDim),
                                          c.done ? "no cochleagram" : "computing...");
      if (!c.done) ++p.pending_thumbnails;
      if (!c.error.empty() && error.empty()) error = c.error;
    }
    ImGui::EndGroup();
  };
  image(m.reference_path, m.reference_sha256, "reference cochleagram");
  ImGui::SameLine();
  image(m.wav_path, m.wav_sha256, "metamer cochleagram");
  ImGui::PushTextWrapPos(0);
  if (!error.empty()) ImGui::TextColored(kRed, "%s", error.c_str());
  if (!source.empty()) ImGui::TextColored(kDim, "cochleagrams: %s", source.c_str());
  ImGui::PopTextWrapPos();
  p.cochleagram_source = source;
  p.cochleagram_status = error;
}

// [SECTION] Sound -------------------------------------------------------------------------

void MetamerDetail::play(const std::string& path) {
  audio_ok_ = false;
  if (!audio_) {
    try {
      audio_ = std::make_unique<AudioOutput>(AudioOptions{});
    } catch (const std::exception& e) {
      audio_status_ = "cannot play: " + first_line(e.what());
      return;
    }
  }
  try {
    int rate = 0;
    const std::vector<float> samples = stimuli::load_sound_as_is(path, &rate);
    if (sound_.id) audio_->stop(sound_), audio_->unload(sound_);
    sound_ = audio_->load(samples, 1, rate);
    audio_->play_at(sound_, now_s());
    ++played_;
    audio_status_ = "playing " + fs::path(path).filename().string() + " (" + fmt("%.2f", sound_.duration_s()) + " s, " +
                    std::to_string(rate) + " Hz) on " + audio_->info().device;
    audio_ok_ = true;
  } catch (const std::exception& e) {
    audio_status_ = "cannot play: " + first_line(e.what());
  }
}

}  // namespace mm::app::studio
