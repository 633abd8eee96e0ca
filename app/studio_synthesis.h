// app/studio_synthesis.h: the workbench's Synthesis panel (issue 13, part 4): a queue of
// `metamerlab synth` jobs run one at a time in a child process, so torch never runs in the
// window's process and the window stays responsive while it works.
//
//   SynthQueue   the jobs, kept in a TOML file (beside the studio's settings) so they outlive
//                the window: a job running when the window closes (or is killed: the child
//                gets SIGTERM when its parent dies) is queued again, and the next start
//                runs the same command, which resumes from synth's own checkpoints. Each job's
//                output goes to its log file; its progress is read from synth's progress
//                lines (`--progress-every 1`). Cancel sends SIGTERM (the job can be resumed).
//   draw_synthesis_panel   the form (model, layers, input folder, output folder, schedule;
//                the database is the studio's) and the jobs with a progress bar, ETA, cancel
//                and resume buttons, and the log's last line.
#pragma once
#include <sys/types.h>

#include <ostream>
#include <string>
#include <vector>

#include "app/display.h"

namespace mm::app {
struct StudioProbe;
}

namespace mm::app::studio {

// What the form asks for: `metamerlab synth --model M --layers L --input IN --out OUT --db DB
// --iterations I --rounds R [--max-rounds M]`.
struct SynthRequest {
  std::string model = "zoo:emoji16-standard";
  std::string layers = "stage3";
  std::string input, out;
  int iterations = 300, rounds = 8;
  int max_rounds = 0;   // above rounds: then until converged, up to this many rounds
  std::string message;  // the form's last complaint ("" none)
};

struct QueueJob {
  int id = 0;
  std::vector<std::string> args;  // after the program: synth --model ...
  std::string state = "queued";   // queued, running, done, failed, cancelled
  std::string log;                // the job's output (stdout and stderr)
  std::string last_line;          // the log's last line (what failed, or the summary)
  double fraction = 0;            // 0..1, from the progress lines
  double eta_s = -1;              // < 0: not known yet
  double started_s = 0;           // when this run of the job started (monotonic seconds)
  long long log_from = 0;         // this run's output starts here in the log (earlier runs' before)
  bool cancel_requested = false;  // Cancel was pressed while it ran
  pid_t pid = 0;                  // running: the child
};

class SynthQueue {
 public:
  // program: the metamerlab executable; file: where the jobs are kept ("" = nowhere: they
  // live as long as the window); db: the database new jobs record into (each job keeps its
  // own, as an absolute path). A file that cannot be read gives one line on `warn`, is set
  // aside as FILE.bad, and the queue starts empty. The file is locked (FILE.lock, flock) for
  // the window's life: a second window on the same file gives one line and keeps its jobs
  // only in memory, so no job is run twice.
  SynthQueue(std::string program, std::string file, std::string db, std::ostream& warn);
  ~SynthQueue();
  SynthQueue(const SynthQueue&) = delete;
  SynthQueue& operator=(const SynthQueue&) = delete;

  // Adds a job; "" or the one line saying what is missing or wrong.
  std::string add(const SynthRequest& r);
  void cancel(int id);   // SIGTERM to a running job; a queued one is not started
  void resume(int id);   // a cancelled or failed job queued again (it resumes where it stopped)
  void remove(int id);   // a job that is not running leaves the list
  // Each frame: reaps a finished child, starts the next queued job, reads progress.
  void poll();
  // The window is closing: a running job is stopped and left queued, to resume next time.
  void shutdown();
  const std::vector<QueueJob>& jobs() const { return jobs_; }
  const std::string& db() const { return db_; }
  const std::string& error() const { return error_; }  // the last failure to start or save

 private:
  void save();
  void start(QueueJob& j);
  void read_progress(QueueJob& j);
  std::string program_, file_, db_, log_dir_, error_;
  int lock_fd_ = -1;
  std::vector<QueueJob> jobs_;
  int next_id_ = 1;
  double last_progress_read_ = -1e9;
};

// The panel; `form` keeps what was typed between frames. Fills probe.jobs and the queue
// button's rectangle for tests.
void draw_synthesis_panel(SynthQueue& q, SynthRequest& form, float scale, float pixel_scale, StudioProbe& probe);

}  // namespace mm::app::studio
