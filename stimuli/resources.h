// stimuli/resources.h: where metamerlab's own data is: the bundled models, the example
// experiments and their icons, the bundled samples, the emoji16 mapping and the npm icon
// manifest. Found relative to the running program, never through a path compiled in:
//
//   METAMERLAB_DATA_DIR                  when set (a relocated or unpacked installation)
//   <program's folder>/../share/metamerlab   otherwise: `cmake --install` and the .deb put
//                                        the program in PREFIX/bin and the data in
//                                        PREFIX/share/metamerlab; the build tree mirrors it
//                                        (build/bin, build/share/metamerlab -> the sources)
//
// The layout under that folder is the source tree's: models/, experiments/,
// stimuli/samples/, stimuli/emoji16_icons.tsv, package.json, package-lock.json.
#pragma once
#include <string>

namespace mm::stimuli {

// The data folder ("" when neither METAMERLAB_DATA_DIR nor <program>/../share/metamerlab
// exists).
std::string data_dir();
// data_dir() / rel. Throws std::runtime_error saying how to fix it when there is no data
// folder (what is missing, for a message, is `what`).
std::string data_path(const std::string& rel, const std::string& what);
// The folder the running program's file is in (from /proc/self/exe).
std::string program_dir();

}  // namespace mm::stimuli
