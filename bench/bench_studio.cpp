// bench/bench_studio.cpp: frame time of the workbench (`metamerlab studio`, issue 13 §6.2)
// with a large stimulus library open, and with a synthesis job running beside it.
//
//   bench_studio [--metamers 2000] [--frames 600] [--program build/bin/metamerlab]
//                [--width 1280 --height 900] [--keep DIR]
//
// Makes a database of --metamers metamers through the store API (2 models x 5 layers x
// references of 10 categories, each metamer and reference a 64 x 64 PNG on disk), opens the
// workbench on it in this process (a private Xvfb unless DISPLAY is set) and drives it with
// real SDL events:
//   1. library: the Stimuli panel, the grid scrolled by the mouse wheel (3 notches every 10
//      frames, down for 200 frames then up), thumbnails loading as cells come into view;
//   2. library + synthesis: a `metamerlab synth` job queued in the Synthesis panel (zoo:
//      emoji16-standard on the bundled sample, a long schedule), then the Stimuli panel
//      scrolled again the same way while the job runs in its own process; the job is stopped
//      when the window closes.
// For each phase it prints the frame intervals (flip to flip: what is seen; the display paces
// at its refresh, by a timer under Xvfb) and each frame's work before the flip (events, the
// database, drawing), median, 99th percentile and max, the frames over 16.7 ms, and the
// thumbnails held (count and bytes of RGBA8 textures) and this process's peak RSS.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "app/display.h"
#include "app/program/cli.h"
#include "app/program/process.h"
#include "app/studio.h"
#include "app/timing.h"
#include "bench/bench_util.h"
#include "data/store.h"

namespace fs = std::filesystem;

namespace {

// A 64 x 64 PNG: a colour field that differs per seed (so each texture is its own).
void write_png(const std::string& path, unsigned seed) {
  mm::app::Image img;
  img.width = img.height = 64;
  img.rgb.resize(64 * 64 * 3);
  for (int y = 0; y < 64; ++y)
    for (int x = 0; x < 64; ++x) {
      uint8_t* p = &img.rgb[(y * 64 + x) * 3];
      p[0] = static_cast<uint8_t>((x * 4 + seed * 37) & 255);
      p[1] = static_cast<uint8_t>((y * 4 + seed * 91) & 255);
      p[2] = static_cast<uint8_t>(((x + y) * 2 + seed * 13) & 255);
    }
  fs::create_directories(fs::path(path).parent_path());
  mm::app::save_png(path, img);
}

// The database: models x layers x references = `metamers` (rounded down to a multiple of 10).
std::string make_library(const std::string& dir, int metamers) {
  const int models = 2, layers = 5, refs = std::max(1, metamers / (models * layers));
  const std::string db = dir + "/library.db";
  mm::data::Store s(db);
  for (int r = 0; r < refs; ++r)
    write_png(dir + "/refs/c" + std::to_string(r % 10) + "/r" + std::to_string(r) + ".png", static_cast<unsigned>(r));
  unsigned seed = 1000;
  for (int mi = 0; mi < models; ++mi) {
    const int64_t model = s.upsert_model({"bench-model-" + std::to_string(mi), "", std::string(63, 'a') + char('0' + mi),
                                          "image", "{}"});
    const int64_t run = s.begin_synth_run({model, "bench_studio", "{}", dir + "/out", "bench"});
    for (int li = 0; li < layers; ++li)
      for (int r = 0; r < refs; ++r) {
        const std::string cat = "c" + std::to_string(r % 10), layer = "layer" + std::to_string(li);
        mm::data::MetamerRecord m;
        m.run_id = run;
        m.reference_path = dir + "/refs/" + cat + "/r" + std::to_string(r) + ".png";
        m.reference_sha256 = "ref" + std::to_string(r);
        m.category = cat;
        m.layer = layer;
        m.iterations = 100;
        m.final_loss = 0.01;
        m.spearman = 0.9, m.pearson = 0.9, m.snr_db = 15;
        m.null_spearman_max = 0.5, m.null_pearson_max = 0.5, m.null_snr_max = 3;
        m.pred_metamer = m.pred_reference = cat;
        m.passed = (r + li) % 7 != 0;
        m.status = m.passed ? "ok" : "failed";
        m.converged = 1;
        m.png_path = dir + "/out/m" + std::to_string(mi) + "/" + layer + "/" + cat + "/r" + std::to_string(r) + ".png";
        write_png(m.png_path, seed++);
        s.add_metamer(m);
      }
    s.finish_synth_run(run, "done", 1.0);
  }
  return db;
}

struct Phase {
  std::vector<double> interval_ms, work_ms;
  size_t thumbnails = 0, thumbnail_bytes = 0;
  std::string note;
};

void print(const std::string& name, const Phase& p) {
  auto q = [](const std::vector<double>& v, double x) { return v.empty() ? 0.0 : mm::app::percentile(v, x); };
  const auto over = std::count_if(p.interval_ms.begin(), p.interval_ms.end(), [](double v) { return v > 16.7 * 1.5; });
  const auto work_over = std::count_if(p.work_ms.begin(), p.work_ms.end(), [](double v) { return v > 16.7; });
  const double mx = p.interval_ms.empty() ? 0 : *std::max_element(p.interval_ms.begin(), p.interval_ms.end());
  const double wmx = p.work_ms.empty() ? 0 : *std::max_element(p.work_ms.begin(), p.work_ms.end());
  std::printf("| %s | %zu | %.1f / %.1f / %.1f | %ld | %.1f / %.1f / %.1f | %ld | %zu | %.1f | %s |\n", name.c_str(),
              p.interval_ms.size(), q(p.interval_ms, 50), q(p.interval_ms, 99), mx, static_cast<long>(over),
              q(p.work_ms, 50), q(p.work_ms, 99), wmx, static_cast<long>(work_over), p.thumbnails,
              p.thumbnail_bytes / 1048576.0, p.note.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  mm::app::keep_freed_memory();  // as the metamerlab program does
  const mm::app::Command cmd{
      "", "frame time of the workbench with a large stimulus library and a synthesis job running", "",
      {{"metamers", "N", "metamers in the generated database (at least 10)", "2000"},
       {"frames", "N", "frames measured per phase (at least 100)", "600"},
       {"program", "FILE", "the metamerlab program the synthesis job runs", METAMERLAB_BIN_DIR "/metamerlab"},
       {"width", "W", "window width", "1280"},
       {"height", "H", "window height", "900"},
       {"keep", "DIR", "make the database and images here and keep them (default: a temporary folder)", ""}},
      "", false, {}, "bench_studio"};
  int metamers = 0, frames = 0, width = 0, height = 0;
  std::string program, keep;
  try {
    const auto a = mm::app::parse_program_args(cmd, argc, argv);
    if (!a) return 0;
    metamers = static_cast<int>(a->get_int("metamers"));
    frames = static_cast<int>(a->get_int("frames"));
    width = static_cast<int>(a->get_int("width"));
    height = static_cast<int>(a->get_int("height"));
    program = a->get("program");
    keep = a->get("keep");
    if (metamers < 10 || frames < 100 || width < 640 || height < 480)
      throw mm::app::UsageError("needs --metamers >= 10, --frames >= 100 and a window of at least 640x480");
    if (!fs::exists(program)) throw mm::app::UsageError("no program at " + program + "; give --program");
  } catch (const mm::app::UsageError& e) {
    std::cerr << "bench_studio: " << e.what() << "\n";
    return 2;
  }
  try {
    mm::bench::PrivateXvfb xvfb;
    const std::string dir = keep.empty() ? (fs::temp_directory_path() / ("bench_studio-" + std::to_string(::getpid()))).string()
                                         : keep;
    fs::create_directories(dir);
    const auto t0 = std::chrono::steady_clock::now();
    const std::string db = make_library(dir, metamers);
    const double make_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

    mm::app::StudioOptions o;
    o.db = db;
    o.width = width, o.height = height;
    o.panel = "Stimuli";
    o.program = program;
    o.queue = dir + "/queue.toml";
    o.synth_form.model = "zoo:emoji16-standard";
    o.synth_form.layers = "stage3";
    o.synth_form.input = std::string(METAMERLAB_SOURCE_DIR) + "/stimuli/samples/emoji16/reference";
    o.synth_form.out = dir + "/synth";
    o.synth_form.iterations = 20000;
    o.synth_form.rounds = 1;
    Phase lib, busy;
    int stage = 0;  // 0: library, 1: queue the job, 2: back to Stimuli, 3: library while it runs
    int64_t mark = 0;
    int measured = 0;
    std::string job_state;
    o.probe = [&](mm::app::StudioProbe& p) {
      mm::app::Display& d = *p.display;
      const auto scroll = [&](int i) {
        if (i % 10 == 0) {
          d.move_pointer(width * 0.5f * d.pixel_scale(), height * 0.6f * d.pixel_scale());
          for (int k = 0; k < 3; ++k) d.push_wheel((i / 10) % 40 < 20 ? -1.0f : 1.0f);  // down 200 frames, then up
        }
      };
      if (!p.jobs.empty()) job_state = p.jobs[0].state;
      if (p.frame < 10) return;
      if (stage == 0 && p.panel == "Stimuli") {
        lib.interval_ms.push_back(p.frame_ms);
        lib.work_ms.push_back(p.work_ms);
        lib.thumbnails = p.thumbnails, lib.thumbnail_bytes = p.thumbnail_bytes;
        scroll(measured);
        if (++measured >= frames) stage = 1, mark = p.frame, d.push_key("3", true);  // Synthesis
      } else if (stage == 1 && p.panel == "Synthesis" && p.frame > mark + 3) {
        d.move_pointer(p.synth_queue.cx(), p.synth_queue.cy());
        d.push_click(p.synth_queue.cx(), p.synth_queue.cy());
        stage = 2, mark = p.frame;
      } else if (stage == 2 && p.frame > mark + 3 && job_state == "running") {
        d.push_key("2", true);  // Stimuli
        stage = 3, measured = 0, mark = p.frame;
      } else if (stage == 3 && p.panel == "Stimuli" && p.frame > mark + 3) {
        if (job_state != "running") {
          busy.note = "the job stopped (" + job_state + ") after " + std::to_string(measured) + " frames";
          p.quit = true;
          return;
        }
        busy.interval_ms.push_back(p.frame_ms);
        busy.work_ms.push_back(p.work_ms);
        busy.thumbnails = p.thumbnails, busy.thumbnail_bytes = p.thumbnail_bytes;
        scroll(measured);
        if (++measured >= frames) p.quit = true;
      }
      if (p.frame > 100000) p.quit = true;
    };
    std::ostringstream out, err;
    mm::app::run_studio(o, out, err);
    struct rusage ru {};
    ::getrusage(RUSAGE_SELF, &ru);
    std::cout << "workbench frame times, " << metamers << " metamers (database made in " << std::fixed
              << std::setprecision(1) << make_s << " s), window " << width << "x" << height << ", " << frames
              << " frames per phase\n\n"
              << "| phase | frames | interval ms p50 / p99 / max | intervals > 25 ms | work ms p50 / p99 / max | "
                 "work > 16.7 ms | thumbnails held | thumbnail MB | note |\n"
              << "|---|---|---|---|---|---|---|---|---|\n";
    print("library", lib);
    print("library + synthesis", busy);
    std::cout << "\npeak RSS of this process " << ru.ru_maxrss / 1024 << " MB (the synthesis job is its own process)\n";
    if (!err.str().empty()) std::cout << "the workbench said: " << err.str();
    if (keep.empty()) fs::remove_all(dir);
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "bench_studio: " << e.what() << "\n";
    return 1;
  }
}
