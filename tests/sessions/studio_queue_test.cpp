// The workbench's synthesis queue (app/studio_synthesis.h), in-process on the test's Xvfb
// with real SDL events (clicks and typed text through Display::push_click / push_text),
// its jobs run by the tests' metamerlab program (zoo:tiny-cnn): a job queued from the form
// runs in its own process while the window keeps drawing, shows progress and finishes with
// its metamers recorded; a form without an input folder is refused with one line; a job
// running when the window closes is queued again in the queue file and the next window
// resumes it to the same metamers; Cancel stops a running job and Resume finishes it; a
// queue file that is not TOML gives one line and is set aside.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>

#include "app/studio.h"
#include "data/library.h"
#include "data/store.h"
#include "tests/support/app_testutil.h"
#include "tests/testutil.h"

namespace {

namespace fs = std::filesystem;
using mm::app::StudioOptions;
using mm::app::StudioProbe;

std::string run(StudioOptions o, const std::function<void(StudioProbe&)>& probe, int64_t max_frames) {
  mm::test::ensure_xvfb();
  o.width = 1100, o.height = 700;
  o.panel = "Synthesis";
  o.program = mm::test::metamerlab_binary();
  o.probe = [&](StudioProbe& p) {
    probe(p);
    if (p.frame > max_frames) {
      ADD_FAILURE() << "the workbench was still open at frame " << p.frame;
      p.quit = true;
    }
  };
  std::ostringstream out, err;
  mm::app::run_studio(o, out, err);
  return err.str();
}

// Two references (two categories) of the bundled sample.
std::string make_input(const mm::test::TempDir& tmp) {
  const std::string in = tmp / "in";
  const fs::path src = fs::path(mm::test::source_dir()) / "stimuli/samples/emoji16/reference";
  for (const char* c : {"bear", "airplane"}) {
    fs::create_directories(fs::path(in) / c);
    for (const auto& e : fs::directory_iterator(src / c)) {
      fs::copy_file(e.path(), fs::path(in) / c / e.path().filename());
      break;
    }
  }
  return in;
}

StudioOptions options(const mm::test::TempDir& tmp) {
  StudioOptions o;
  o.db = tmp / "m.db";
  o.settings = tmp / "cfg/studio.toml";
  o.synth_form.model = "zoo:tiny-cnn";
  o.synth_form.layers = "stage2";
  o.synth_form.iterations = 300;
  o.synth_form.rounds = 2;
  return o;
}

size_t metamers_in(const std::string& db) {
  mm::data::Store s(db);
  return mm::data::library_metamers(s).size();
}

// Per run of synth in a job's log (each starts by reporting its null distribution), the
// (metamer k, step) of its first progress line; (0, 0) when it printed none.
std::vector<std::pair<int, int>> run_starts(const std::string& log) {
  std::vector<std::pair<int, int>> out;
  std::istringstream in(log);
  std::string line;
  bool want = false;
  while (std::getline(in, line)) {
    if (line.find(": null over") != std::string::npos) out.emplace_back(0, 0), want = true;
    int k = 0, n = 0, step = 0;
    char layer[64];
    if (want && std::sscanf(line.c_str(), "[%d/%d] layer %63s step %d", &k, &n, layer, &step) == 4)
      out.back() = {k, step}, want = false;
  }
  return out;
}

// Types text into the focused field: SDL's text events hold at most 31 bytes each.
void type(mm::app::Display& d, const std::string& text) {
  for (size_t i = 0; i < text.size(); i += 20) d.push_text(text.substr(i, 20));
}

std::string read(const std::string& path) {
  std::ifstream f(path);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

TEST(StudioQueue, AJobFromTheFormRunsInItsOwnProcessWhileTheWindowDraws) {
  mm::test::TempDir tmp("studio_queue");
  const std::string in = make_input(tmp);
  StudioOptions o = options(tmp);
  o.synth_form.out = tmp / "out";
  o.synth_form.max_rounds = 4;  // then until converged, up to 4 rounds
  int stage = 0;
  int64_t at = 0;
  std::string refused;
  double max_ms = 0, mid = -1;
  long bar_pixels = -1;
  std::string state, last_line;
  std::string job_stat;  // /proc/PID/stat of the running job: its nice value
  run(o, [&](StudioProbe& p) {
    mm::app::Display& d = *p.display;
    if (p.panel != "Synthesis" || p.frame < 5) return;
    if (stage == 0) {  // Queue with no input folder: refused
      d.move_pointer(p.synth_queue.cx(), p.synth_queue.cy());
      d.push_click(p.synth_queue.cx(), p.synth_queue.cy());
      stage = 1, at = p.frame;
    } else if (stage == 1 && p.frame > at + 3) {
      refused = p.synth_message;
      EXPECT_TRUE(p.jobs.empty());
      d.move_pointer(p.synth_input.cx(), p.synth_input.cy());
      d.push_click(p.synth_input.cx(), p.synth_input.cy());
      stage = 2, at = p.frame;
    } else if (stage == 2 && p.frame > at + 2) {
      type(d, in);
      stage = 3, at = p.frame;
    } else if (stage == 3 && p.frame > at + 2) {
      d.move_pointer(p.synth_queue.cx(), p.synth_queue.cy());
      d.push_click(p.synth_queue.cx(), p.synth_queue.cy());
      stage = 4, at = p.frame;
    } else if (stage == 4 && !p.jobs.empty()) {
      state = p.jobs[0].state, last_line = p.jobs[0].last_line;
      if (state == "running") {
        if (job_stat.empty() && p.jobs[0].pid > 0) job_stat = read("/proc/" + std::to_string(p.jobs[0].pid) + "/stat");
        max_ms = std::max(max_ms, p.frame_ms);
        if (p.jobs[0].fraction > 0.05 && p.jobs[0].fraction < 0.95) mid = p.jobs[0].fraction;
        if (p.jobs[0].fraction > 0.3 && bar_pixels < 0) {  // the progress bar's fill (ImGui's amber)
          const mm::app::Image shot = d.capture();
          if (const char* dir = std::getenv("METAMERLAB_KEEP_SCREENSHOTS"))
            mm::app::save_png(std::string(dir) + "/studio_queue_running.png", shot);
          bar_pixels = 0;
          for (size_t i = 0; i + 2 < shot.rgb.size(); i += 3)
            bar_pixels += shot.rgb[i] > 200 && shot.rgb[i + 1] > 140 && shot.rgb[i + 1] < 200 && shot.rgb[i + 2] < 40;
        }
      }
      if (state == "done" || state == "failed") p.quit = true;
    }
  }, 20000);
  EXPECT_NE(refused.find("input folder"), std::string::npos) << refused;
  EXPECT_EQ(std::count(refused.begin(), refused.end(), '\n'), 0);
  ASSERT_EQ(state, "done") << last_line;
  EXPECT_NE(last_line.find("done: 2 metamer(s)"), std::string::npos) << last_line;
  EXPECT_GT(mid, 0) << "no progress seen between start and end";
  EXPECT_GT(bar_pixels, 300) << "no progress bar on the screenshot";
  // The job is another process: the window's frames wait on it only for the CPU (loose, for
  // a busy 2-core machine; bench/bench_studio measures the frame times).
  EXPECT_LT(max_ms, 2000) << "a frame took " << max_ms << " ms while the job ran";
  EXPECT_EQ(metamers_in(o.db), 2u);
  EXPECT_TRUE(fs::exists(tmp / "out/stage2/bear"));
  // The job runs at nice 10 with a core left to the window (field 19 of /proc/PID/stat).
  std::istringstream stat(job_stat.substr(job_stat.rfind(')') + 2));
  std::vector<std::string> fields;
  for (std::string f; stat >> f;) fields.push_back(f);
  ASSERT_GT(fields.size(), 17u) << job_stat;
  EXPECT_EQ(fields[16], "10") << job_stat;
  const std::string queue = read(tmp / "cfg/synthesis-queue.toml");
  EXPECT_NE(queue.find("state = 'done'"), std::string::npos) << queue;
  EXPECT_NE(queue.find("'--threads'"), std::string::npos) << queue;
  EXPECT_NE(queue.find("'--max-rounds',\n    '4'"), std::string::npos) << queue;
}

TEST(StudioQueue, ARunningJobResumesAfterTheWindowClosesAndCancelAndResumeWork) {
  mm::test::TempDir tmp("studio_queue_resume");
  const std::string in = make_input(tmp);
  StudioOptions o = options(tmp);
  o.synth_form.input = in;
  o.synth_form.out = tmp / "out";
  o.synth_form.iterations = 400;  // long enough to be caught running
  // 1. Queue, and close the window once the job is a third of the way.
  bool queued = false;
  double closed_at = 0;
  run(o, [&](StudioProbe& p) {
    if (p.panel != "Synthesis" || p.frame < 5) return;
    if (!queued) {
      p.display->move_pointer(p.synth_queue.cx(), p.synth_queue.cy());
      p.display->push_click(p.synth_queue.cx(), p.synth_queue.cy());
      queued = true;
    } else if (!p.jobs.empty() && p.jobs[0].state == "running" && p.jobs[0].fraction > 0.3) {
      closed_at = p.jobs[0].fraction;
      p.quit = true;
    } else if (!p.jobs.empty() && p.jobs[0].state != "running" && p.jobs[0].state != "queued") {
      ADD_FAILURE() << "the job ended before the window closed: " << p.jobs[0].state << " " << p.jobs[0].last_line;
      p.quit = true;
    }
  }, 20000);
  ASSERT_GT(closed_at, 0.3);
  ASSERT_LT(closed_at, 1.0);
  const std::string file = tmp / "cfg/synthesis-queue.toml";
  EXPECT_NE(read(file).find("state = 'queued'"), std::string::npos) << read(file);
  EXPECT_LT(metamers_in(o.db), 2u);

  // 2. The next window resumes it; then Cancel a second job while it runs, and Resume it.
  StudioOptions again = options(tmp);
  again.synth_form.input = in;
  again.synth_form.out = tmp / "out2";
  again.synth_form.iterations = 400;
  std::string first, second, first_line;
  int stage = 0;
  int64_t at = 0;
  run(again, [&](StudioProbe& p) {
    if (p.panel != "Synthesis" || p.frame < 5 || p.jobs.empty()) return;
    mm::app::Display& d = *p.display;
    first = p.jobs[0].state, first_line = p.jobs[0].last_line;
    if (stage == 0 && first == "done") {
      d.move_pointer(p.synth_queue.cx(), p.synth_queue.cy());
      d.push_click(p.synth_queue.cx(), p.synth_queue.cy());
      stage = 1;
    } else if (stage == 1 && p.jobs.size() == 2 && p.jobs[1].state == "running" && p.jobs[1].fraction > 0.1) {
      d.move_pointer(p.jobs[1].action.cx(), p.jobs[1].action.cy());
      d.push_click(p.jobs[1].action.cx(), p.jobs[1].action.cy());  // Cancel
      stage = 2, at = p.frame;
    } else if (stage == 2 && p.jobs.size() == 2 && p.jobs[1].state == "cancelled") {
      second = "cancelled";
      d.move_pointer(p.jobs[1].action.cx(), p.jobs[1].action.cy());
      d.push_click(p.jobs[1].action.cx(), p.jobs[1].action.cy());  // Resume
      stage = 3;
    } else if (stage == 3 && p.jobs.size() == 2 && (p.jobs[1].state == "done" || p.jobs[1].state == "failed")) {
      second += " then " + p.jobs[1].state;
      p.quit = true;
    }
  }, 30000);
  EXPECT_EQ(first, "done") << first_line;
  // The job's log holds both runs; the second starts where the first's checkpoint left it
  // (checkpoints every 100 steps), not at the first metamer's step 0.
  const std::string log = read(tmp / "cfg/synthesis-logs/job-1.log");
  const auto starts = run_starts(log);
  ASSERT_EQ(starts.size(), 2u) << log;
  EXPECT_TRUE(starts[1].first >= 2 || starts[1].second >= 100)
      << "the second run started at metamer " << starts[1].first << " step " << starts[1].second << "\n" << log;
  EXPECT_EQ(second, "cancelled then done");
  EXPECT_EQ(metamers_in(o.db), 4u);  // two per job, each recorded once
}

TEST(StudioQueue, AQueueFileThatIsNotTomlGivesOneLineAndIsSetAside) {
  mm::test::TempDir tmp("studio_queue_bad");
  StudioOptions o = options(tmp);
  fs::create_directories(tmp / "cfg");
  { std::ofstream(tmp / "cfg/synthesis-queue.toml") << "[[job]\nid = ="; }
  size_t jobs = 99;
  const std::string err = run(o, [&](StudioProbe& p) {
    if (p.panel == "Synthesis" && p.frame > 5) jobs = p.jobs.size(), p.quit = true;
  }, 400);
  EXPECT_EQ(jobs, 0u);
  EXPECT_NE(err.find("synthesis-queue.toml cannot be read"), std::string::npos) << err;
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
  EXPECT_TRUE(fs::exists(tmp / "cfg/synthesis-queue.toml.bad"));
}

}  // namespace
