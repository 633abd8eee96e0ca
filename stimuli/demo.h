// stimuli/demo.h: a small procedural image set for the synthesis demo and tests.
//
// Four categories (checker, disc, ring, stripes) drawn with seeded random colours,
// positions, sizes and orientations, written as PNG in ImageFolder layout. It stands in
// until the bundled emoji16 set exists; a fixed seed gives the same files every time.
#pragma once
#include <string>
#include <vector>

#include "stimuli/stimuli.h"

namespace mm::stimuli {

std::vector<std::string> demo_shape_categories();
// Writes DIR/<category>/<category>_<k>.png for k < per_category; returns the items.
std::vector<Item> write_demo_shapes(const std::string& dir, int per_category, int size, unsigned seed);

}  // namespace mm::stimuli
