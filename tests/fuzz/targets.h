// tests/fuzz/targets.h: the fuzz targets, one plain function per parser of outside input.
//
// Each takes the fuzzer's bytes, hands them to the parser the way the program does (most
// parsers take a path, so the bytes are written to a file first) and returns 0. A refusal
// (any std::exception) is an expected outcome and is caught; a crash, a sanitizer report
// or a hang is a finding. tests/fuzz/fuzz_main.cpp wraps one of them as a libFuzzer
// target (tools/fuzz.sh), and tests/fuzz/replay_test.cpp replays the kept corpus and every
// crash found through them in the normal test run.
//
// Targets (the names are the corpus folders tests/fuzz/corpus/<name>/):
//   experiment   an experiment file: TOML, then the CSV tables it may name (see below)
//   image        an image file (stb_image) through stimuli::load_image
//   audio        a sound file (libsndfile, libsamplerate) through stimuli::load_audio
//   npy          a .npy file through stimuli::load_npy
//   model_meta   a TorchScript archive's metamerlab.json through synth::parse_model_info
//   net_sidecar  a trained network's sidecar FILE.json through synth::parse_net_sidecar
//   merge        a shard database through data::merge_stores into a fresh OUT, what
//                `metamerlab merge` reads (merge_target.cpp); besides a crash, a finding
//                (abort) is a refusal that is not one line naming the shard, a merge that
//                writes its input, leaves a refused OUT behind, writes an OUT failing
//                PRAGMA integrity_check, or adds records when run again
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace mm::fuzz {

// The experiment input is split at NUL bytes: part 0 is written to exp.toml, part 1 to
// table.csv, part 2 to metamers.csv, in a folder that also holds a small lab: images
// refs/{boat,car}/*.png, practice/..., icons/{boat,car}.png, metamers syn/l1/..., sounds
// sounds/{boat,car}/*.wav, and lab.db recording the metamers of zoo:toy (layers l1, l2).
// The file is loaded, validated and, when valid, planned for participant 1.
int fuzz_experiment(const uint8_t* data, size_t size);
int fuzz_image(const uint8_t* data, size_t size);
int fuzz_audio(const uint8_t* data, size_t size);
int fuzz_npy(const uint8_t* data, size_t size);
int fuzz_model_meta(const uint8_t* data, size_t size);
int fuzz_net_sidecar(const uint8_t* data, size_t size);
int fuzz_merge(const uint8_t* data, size_t size);

// The merge target's work: true when the merge was accepted (the replay test checks that
// the corpus holds shards that merge, so the target reaches the copying code).
bool merge_shard_bytes(const uint8_t* data, size_t size);
// Writes the merge target's seeds into `dir` (made with the store's API: valid shards, then
// refused and damaged variants; tests/fuzz/merge_seeds.cpp); returns how many.
int write_merge_seeds(const std::string& dir);

using FuzzTarget = int (*)(const uint8_t*, size_t);
struct NamedTarget {
  const char* name;
  FuzzTarget fn;
};
// Every target, by corpus folder name.
const std::vector<NamedTarget>& fuzz_targets();

// The scratch folder of this process (created on first use, under TMPDIR or /tmp).
const std::string& fuzz_scratch();

}  // namespace mm::fuzz
