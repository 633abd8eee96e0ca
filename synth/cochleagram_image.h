// synth/cochleagram_image.h: a sound file's cochleagram as a picture for people to look at
// (the workbench's Stimuli panel, through the program layer). Torch-free; computed in
// synth/cochleagram.cpp.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace mm::synth {

struct CochleagramPicture {
  int64_t channels = 0;       // rows: frequency channels, lowest first
  int64_t frames = 0;         // columns: envelope frames, in time order
  std::vector<float> values;  // channels x frames, row-major, scaled to [0, 1] (1: the picture's largest value)
  double seconds = 0;         // the sound's duration as computed (after cropping or padding)
  std::string source;         // what computed it: the model's front end, or the default cochleagram and why
};

// The cochleagram of the sound file `wav`:
//  - as the model `model_spec` computes it when that is an audio model with a layer named
//    "cochleagram" (metamerlab's audio networks, the bundled words16 models): the file loaded
//    as the model takes it (ModelHandle::load_stimulus) and the model run to that layer;
//  - otherwise (no model given, an image model, no such layer, a model that cannot be
//    opened) the default cochleagram of synth/cochleagram.h (20 kHz, 2 s, 211 channels) of
//    the file loaded at 20 kHz and 2 s, and `source` says why the model's was not used.
// Models opened are kept for the next call (and a model that failed to open is not tried
// again). Thread-safe (one call at a time). Throws std::runtime_error, one line naming the
// file, for a file that cannot be read as sound.
CochleagramPicture cochleagram_picture(const std::string& wav, const std::string& model_spec);

}  // namespace mm::synth
