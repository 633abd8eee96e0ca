// stimuli: loading and saving images and sounds, and listing stimulus sets.
//
// Everything a synthesis or an experiment reads or writes as a stimulus passes through
// here. No torch, no UI. Errors are thrown as std::runtime_error whose message names the
// file, says what is wrong and what to do ("FILE: what went wrong; fix").
//
// Sections
//   [SECTION] Arrays        plain float arrays with a shape
//   [SECTION] Images        stb_image loading (grey/RGB/RGBA/16-bit), crop, resize, PNG
//   [SECTION] Audio         libsndfile loading, mono mix, libsamplerate resampling, RMS
//   [SECTION] Exact copies  .npy float32 files
//   [SECTION] Sets          ImageFolder-style stimulus sets
//   [SECTION] Files         atomic writes, SHA-free helpers
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace mm::stimuli {

// [SECTION] Arrays ------------------------------------------------------------------------
// A dense float array, row-major. Images are CHW, sounds are {samples}.
struct Array {
  std::vector<int64_t> shape;
  std::vector<float> data;
  int64_t numel() const;
};

// [SECTION] Images ------------------------------------------------------------------------
struct ImageSpec {
  int channels = 3;        // 1 or 3: what the model takes
  int height = 224;
  int width = 224;
  float lo = 0.0f;         // value range the model expects
  float hi = 1.0f;
};
// Loads any image stb_image reads (8- or 16-bit; grey, grey+alpha, RGB, RGBA; alpha is
// composited on white), center-crops it to the target aspect ratio, resizes it with an
// area-averaging / bilinear filter and maps [0,1] to [lo,hi]. Returns CHW.
Array load_image(const std::string& path, const ImageSpec& spec);
// Writes a CHW array in [lo,hi] as an 8-bit PNG (values rounded to nearest), atomically.
void save_png(const std::string& path, const Array& chw, float lo, float hi);

// [SECTION] Audio -------------------------------------------------------------------------
struct AudioSpec {
  int sample_rate = 20000;
  int64_t samples = 40000;  // clips are centre-cropped or zero-padded (at the end) to this
  double rms = 0.1;         // after mean subtraction, scaled to this RMS (the paper's 0.1)
};
struct AudioLoadReport {
  int original_rate = 0;
  int channels = 0;
  bool resampled = false;
  std::string note;  // human-readable, e.g. "resampled 44100 Hz -> 20000 Hz, mixed 2 channels"
};
// Loads any libsndfile format (8/16/24/32-bit, float; any channel count), mixes to mono,
// resamples with libsamplerate (SRC_SINC_BEST_QUALITY) when rates differ, crops or pads,
// subtracts the mean and scales to spec.rms. A silent clip is an error.
Array load_audio(const std::string& path, const AudioSpec& spec, AudioLoadReport* report = nullptr);
// The file's sound as it is, for listening: mixed to mono at its own rate (set in *rate),
// with load_audio's checks (missing, empty, a folder, a bad rate, too long, undecodable).
std::vector<float> load_sound_as_is(const std::string& path, int* rate);
// Writes mono float samples as a 32-bit float WAV, atomically.
void save_wav_float(const std::string& path, const Array& mono, int sample_rate);

// [SECTION] Exact copies ------------------------------------------------------------------
// float32 little-endian .npy (version 1.0, C order): numpy.load reads it.
void save_npy(const std::string& path, const Array& a);
Array load_npy(const std::string& path);

// [SECTION] Sets --------------------------------------------------------------------------
enum class Modality { image, audio };
struct Item {
  std::string path;      // as given or found
  std::string category;  // parent folder's name (ImageFolder layout)
};
// Each input is a folder in ImageFolder layout (DIR/<category>/<file>; files directly in
// DIR get the category of DIR's own name) or a single file. Only files with the modality's
// extensions are taken (images: png jpg jpeg bmp gif tga ppm pgm psd hdr; audio: wav flac
// ogg aiff aif au). Sorted by category then path. A missing input, or one that yields no
// stimulus, is an error.
std::vector<Item> list_stimuli(const std::vector<std::string>& inputs, Modality m);
// Whether list_stimuli takes `path` as a stimulus of modality m (by its extension, any case).
bool is_stimulus_file(const std::string& path, Modality m);

// [SECTION] Files -------------------------------------------------------------------------
// Writes bytes to path.tmp, fsyncs, renames over path. Throws with the path and a fix.
void write_file_atomic(const std::string& path, const std::string& bytes);
// Creates a folder (and parents); throws naming the folder if it cannot be created or
// written to.
void ensure_writable_dir(const std::string& dir);

}  // namespace mm::stimuli
