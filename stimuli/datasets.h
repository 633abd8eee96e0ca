// stimuli/datasets.h: the builders of the two bundled demo data sets, emoji16 (images
// rendered from npm emoji icon sets with rsvg-convert) and words16 (the 16 category names
// spoken by espeak-ng, flite and festival). No torch, no UI.
//
// Both write an ImageFolder-style tree, an index of every file and a manifest:
//   OUT/train/<category>/<category>_00000.png|wav   styles / voices used for training
//   OUT/test/<category>/...                          held-out styles / voices only
//   OUT/reference/<category>/...                     held-out, 25 per category, fixed seed
//   OUT/index.tsv      one line per file: split, path, category, source, augmentation
//   OUT/manifest.json  counts, seeds, split, tool and package versions
// Every file's augmentation comes from its own random stream (seed, split, category,
// index), so a build is byte-identical for a seed whatever the number of threads.
// A missing tool is an error naming the Debian package to install.
#pragma once
#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

namespace mm::stimuli {

// The 16 categories, in label order: the paper's 16-way task with fish in place of oven.
const std::vector<std::string>& dataset_categories();

// What a build wrote.
struct DatasetSummary {
  std::string manifest;      // OUT/manifest.json
  int64_t train = 0, test = 0, reference = 0;
  double seconds = 0;        // wall time of the whole build
  std::vector<std::string> holdout;  // styles or voices kept out of training
};

// [SECTION] emoji16 -------------------------------------------------------------------------
struct Emoji16Options {
  std::string out_dir;
  // Folder holding package-lock.json and node_modules/@iconify-json/* ("" = the source tree).
  std::string icons_root;
  // The category -> icons mapping ("" = <source>/stimuli/emoji16_icons.tsv).
  std::string mapping;
  int size = 64;                    // output side in pixels
  int train_per_category = 500;
  int test_per_category = 100;
  int reference_per_category = 25;
  uint64_t seed = 0;                // train and test augmentation
  uint64_t reference_seed = 1;      // reference set (fixed so every build shares it)
  std::vector<std::string> holdout = {"twemoji"};  // styles kept for test and reference
  std::vector<std::string> categories;  // restrict (testing); empty = all 16
  int threads = 0;                  // workers; 0: three per core (the work mostly waits on I/O)
  std::ostream* progress = nullptr; // progress lines, or none
};
DatasetSummary build_emoji16(const Emoji16Options& opt);

// The six icon styles (npm packages @iconify-json/<style>).
const std::vector<std::string>& emoji16_styles();
// One mapping line: a category's icons in one style.
struct IconChoice {
  std::string category, style;
  std::vector<std::string> icons;
};
// Reads the mapping TSV; throws naming the file and line on unknown categories or styles,
// duplicates, or a category without an icon in some style.
std::vector<IconChoice> load_emoji16_mapping(const std::string& path);
// Checks every mapped icon exists (as an icon or alias) in its set's icons.json under
// icons_root; returns the problems found (empty: all good).
std::vector<std::string> check_emoji16_mapping(const std::vector<IconChoice>& mapping, const std::string& icons_root);
// Default locations: the data folder (stimuli/resources.h) holds package-lock.json and, in
// the build tree, node_modules/ (npm ci); stimuli/emoji16_icons.tsv is the mapping.
std::string default_icons_root();
std::string default_emoji16_mapping();

// [SECTION] words16 -------------------------------------------------------------------------
struct Words16Options {
  std::string out_dir;
  int sample_rate = 16000;
  double seconds = 1.0;             // clip length
  int train_per_category = 500;
  int test_per_category = 100;
  int reference_per_category = 25;
  int utterances = 48;              // distinct syntheses per word for training (test: a third, at least 4)
  uint64_t seed = 0;
  uint64_t reference_seed = 1;
  // Held-out voices: voice ids (espeak-ng:en-us-nyc, flite:slt, festival:ked_diphone),
  // speaker names (slt: every voice of that speaker) and espeak-ng variants (+f4).
  std::vector<std::string> holdout = default_words16_holdout();
  std::vector<std::string> categories;
  int threads = 0;
  std::ostream* progress = nullptr;

  static std::vector<std::string> default_words16_holdout();
};
DatasetSummary build_words16(const Words16Options& opt);

// Every voice id and espeak-ng variant the builder knows (for messages and tests).
std::vector<std::string> words16_voice_ids();

// [SECTION] Tools ---------------------------------------------------------------------------
// The full path of an executable found on $PATH, or "" when there is none.
std::string find_on_path(const std::string& program);
// Throws "PROGRAM not found on PATH; install the Debian package PACKAGE (...)" when missing.
void require_tool(const std::string& program, const std::string& package);

}  // namespace mm::stimuli
