// bench/bench_stats.cpp: times the paper's full analysis load on simulated data.
//
// Design: P participants, 9 conditions (natural + 2 generating models x 4 layers), each a
// proportion correct out of 16 trials. Analyses, each with N permutations per effect:
//   - per generating model, the mixed ANOVA observer (human/network, 2P rows) x layer
//     (natural + 4 layers): 3 permutation tests;
//   - the two-way repeated-measures ANOVA layer (4) x model (2) on the humans: 3 tests;
//   - per generating model, the one-way repeated-measures ANOVA over its 5 conditions, and
//     one over all 9 conditions: 3 tests.
// Prints each analysis's time and the total in seconds.
//
//   bench_stats [--permutations N] [--participants N] [--seed S] [--threads T]
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <stdexcept>
#include <string>

#include "analysis/stats.h"
#include "app/program/cli.h"
#include "app/program/process.h"

using mm::analysis::Array3;
using mm::analysis::Matrix;

namespace {

constexpr int kLayers = 4;
constexpr int kModels = 2;
constexpr int kTrials = 16;

// Proportion correct out of kTrials with probability prob (portable draws).
double proportion(std::mt19937_64& rng, double prob) {
  int k = 0;
  for (int t = 0; t < kTrials; ++t)
    k += static_cast<double>(mm::analysis::bounded_draw(rng, 1000000)) < prob * 1e6;
  return static_cast<double>(k) / kTrials;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  mm::app::keep_freed_memory();  // as the metamerlab program does
  const mm::app::Command cmd{"", "the paper's full analysis load on simulated data (ANOVAs with permutation p-values)", "",
                             {{"permutations", "N", "permutations per effect", "10000"},
                              {"participants", "N", "simulated participants", "100"},
                              {"seed", "S", "seed of the simulated data and the permutations", "1"},
                              {"threads", "T", "threads of the permutation loops (results do not depend on it)", "1"}},
                             "", false, {}, "bench_stats"};
  long draws = 0, participants = 0, threads = 0;
  unsigned long long seed = 1;
  try {
    const auto a = mm::app::parse_program_args(cmd, argc, argv);
    if (!a) return 0;
    draws = static_cast<long>(a->get_int("permutations"));
    participants = static_cast<long>(a->get_int("participants"));
    threads = static_cast<long>(a->get_int("threads"));
    seed = static_cast<unsigned long long>(a->get_int("seed"));
    if (draws < 1 || participants < 2 || threads < 1)
      throw mm::app::UsageError("--permutations and --threads must be at least 1, --participants at least 2");
  } catch (const mm::app::UsageError& e) {
    std::fprintf(stderr, "bench_stats: %s\n", e.what());
    return 2;
  }
  const std::size_t P = static_cast<std::size_t>(participants);

  // Simulated data: humans fall off over layers, more for model 0; each generating model
  // recognizes its own metamers (judged on the stimuli that participant saw).
  std::mt19937_64 rng(seed);
  Matrix human(P, 1 + kModels * kLayers);  // natural, m0 l0..l3, m1 l0..l3
  Array3 network(P, kModels, 1 + kLayers);
  for (std::size_t p = 0; p < P; ++p) {
    human(p, 0) = proportion(rng, 0.9);
    for (int m = 0; m < kModels; ++m)
      for (int l = 0; l < kLayers; ++l) {
        const double prob = 0.9 - (m == 0 ? 0.2 : 0.05) * l;
        human(p, 1 + static_cast<std::size_t>(m * kLayers + l)) = proportion(rng, prob);
      }
    for (int m = 0; m < kModels; ++m)
      for (int l = 0; l <= kLayers; ++l)
        network(p, static_cast<std::size_t>(m), static_cast<std::size_t>(l)) =
            proportion(rng, 0.97);
  }

  mm::analysis::PermutationOptions options;
  options.draws = static_cast<int>(draws);
  options.seed = seed;
  options.threads = static_cast<int>(threads);

  try {
    const auto t_all = std::chrono::steady_clock::now();
    int tests = 0;
    for (int m = 0; m < kModels; ++m) {
      Matrix rows(2 * P, 1 + kLayers);
      std::vector<int> group(2 * P);
      for (std::size_t p = 0; p < P; ++p) {
        rows(p, 0) = human(p, 0);
        for (int l = 0; l < kLayers; ++l)
          rows(p, static_cast<std::size_t>(1 + l)) =
              human(p, static_cast<std::size_t>(1 + m * kLayers + l));
        for (int l = 0; l <= kLayers; ++l)
          rows(P + p, static_cast<std::size_t>(l)) =
              network(p, static_cast<std::size_t>(m), static_cast<std::size_t>(l));
        group[p] = 0;
        group[P + p] = 1;
      }
      const auto t0 = std::chrono::steady_clock::now();
      const auto r = mm::analysis::mixed_anova(rows, group, options);
      std::printf("mixed observer x layer, model %d (%zu x %d): %.3f s  "
                  "F %.2f/%.2f/%.2f  p %.4g/%.4g/%.4g\n",
                  m, rows.rows, 1 + kLayers, seconds_since(t0), r.observer.f, r.layer.f,
                  r.interaction.f, r.observer.p, r.layer.p, r.interaction.p);
      tests += 3;
    }
    {
      Array3 a(P, kLayers, kModels);
      for (std::size_t p = 0; p < P; ++p)
        for (int l = 0; l < kLayers; ++l)
          for (int m = 0; m < kModels; ++m)
            a(p, static_cast<std::size_t>(l), static_cast<std::size_t>(m)) =
                human(p, static_cast<std::size_t>(1 + m * kLayers + l));
      const auto t0 = std::chrono::steady_clock::now();
      const auto r = mm::analysis::rm_anova_two_way(a, options);
      std::printf("two-way RM layer x model (%zu x %d x %d): %.3f s  F %.2f/%.2f/%.2f  "
                  "p %.4g/%.4g/%.4g\n",
                  P, kLayers, kModels, seconds_since(t0), r.layer.f, r.model.f,
                  r.interaction.f, r.layer.p, r.model.p, r.interaction.p);
      tests += 3;
    }
    for (int m = 0; m < kModels; ++m) {
      Matrix one(P, 1 + kLayers);
      for (std::size_t p = 0; p < P; ++p) {
        one(p, 0) = human(p, 0);
        for (int l = 0; l < kLayers; ++l)
          one(p, static_cast<std::size_t>(1 + l)) =
              human(p, static_cast<std::size_t>(1 + m * kLayers + l));
      }
      const auto t0 = std::chrono::steady_clock::now();
      const auto r = mm::analysis::rm_anova_one_way(one, options);
      std::printf("one-way RM layers, model %d (%zu x %d): %.3f s  F %.2f  p %.4g\n", m, P,
                  1 + kLayers, seconds_since(t0), r.f, r.p);
      ++tests;
    }
    {
      const auto t0 = std::chrono::steady_clock::now();
      const auto r = mm::analysis::rm_anova_one_way(human, options);
      std::printf("one-way RM all conditions (%zu x %zu): %.3f s  F %.2f  p %.4g\n", P,
                  human.cols, seconds_since(t0), r.f, r.p);
      ++tests;
    }
    std::printf("total: %.3f s for %d permutation tests x %ld draws, %zu participants, "
                "%ld thread(s)\n",
                seconds_since(t_all), tests, draws, P, threads);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_stats: %s\n", e.what());
    return 1;
  }
  return 0;
}
