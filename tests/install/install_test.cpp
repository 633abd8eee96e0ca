// Installed and packaged metamerlab, run with the source and build trees out of reach.
//
// `cmake --install` into a temporary prefix (outside the build tree), then, in a private
// mount namespace with empty file systems mounted over the source and build trees (so a
// path compiled in would find nothing), from another folder: `info` of a bundled model, a
// short `demo` (synthesis of both image models at four layers, null tests, judgments) and
// `plan` of the installed example experiment on the demo's database. Then the CPack .deb:
// its declared Debian dependencies, its contents run the same way after dpkg-deb -x, and,
// as root with apt, `apt-get install ./metamerlab_*.deb` and the installed /usr/bin program.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <string>

#include "tests/testutil.h"

namespace {

namespace fs = std::filesystem;
using mm::test::run;

std::string q(const std::string& s) {
  std::string o = "'";
  for (char c : s) o += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return o + "'";
}

std::string describe(const mm::test::RunResult& r) {
  return "exit " + std::to_string(r.exit_code) + "\n--- stdout:\n" + r.out + "--- stderr:\n" + r.err;
}

// A fresh folder under /tmp (not under the build tree, which is hidden while the installed
// program runs); removed at the end.
struct OutsideDir {
  std::string path;
  OutsideDir() {
    char t[] = "/tmp/metamerlab-install-XXXXXX";
    path = ::mkdtemp(t);
  }
  ~OutsideDir() {
    std::error_code ec;
    if (!std::getenv("METAMERLAB_KEEP_TMP")) fs::remove_all(path, ec);
  }
};

// Runs `script` (sh) with the source and build trees hidden under empty tmpfs mounts.
mm::test::RunResult run_hidden(const std::string& script) {
  const std::string src = fs::canonical(METAMERLAB_SOURCE_DIR).string();
  const std::string build = fs::canonical(METAMERLAB_BUILD_DIR).string();
  std::string inner = "set -e; mount -t tmpfs none " + q(src) + "; ";
  if (build.rfind(src + "/", 0) != 0) inner += "mount -t tmpfs none " + q(build) + "; ";
  inner += "test ! -e " + q(src + "/models") + "; " + script;
  return run("unshare --mount --fork sh -c " + q(inner));
}

bool can_hide() { return run("unshare --mount --fork sh -c 'mount -t tmpfs none /mnt'").exit_code == 0; }

// info, a short demo, and plan of the installed example experiment, from `work`.
void expect_installed_program_works(const std::string& bin, const std::string& share, const std::string& work) {
  const std::string demo = work + "/demo";
  const auto r = run_hidden(
      "cd " + q(work) + "; " +
      q(bin) + " info --model zoo:emoji16-standard --json --threads 1; " +
      q(bin) + " demo --out " + q(demo) + " --iterations 2 --rounds 1 --threads 2 >/dev/null; " +
      q(bin) + " plan " + q(share + "/experiments/demo-images.toml") + " --participant 1 --summary --db " +
      q(demo + "/metamerlab.db"));
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_NE(r.out.find("\"spec\":\"zoo:emoji16-standard\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(share + "/models/emoji16-standard.pt"), std::string::npos) << "weights found elsewhere:\n" << r.out;
  EXPECT_NE(r.out.find("experiment   demo-images"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("validation   ok"), std::string::npos) << r.out;
  EXPECT_TRUE(fs::exists(demo + "/emoji16-robust/stage3")) << describe(r);
}

TEST(Install, PrefixRunsFromAnyFolderWithTheSourcesOutOfReach) {
  ASSERT_TRUE(can_hide()) << "this test hides the source tree with unshare --mount (needs root); run it as root";
  OutsideDir tmp;
  const std::string prefix = tmp.path + "/prefix", work = tmp.path + "/elsewhere";
  fs::create_directories(work);
  const auto inst = run("cmake --install " + q(METAMERLAB_BUILD_DIR) + " --prefix " + q(prefix));
  ASSERT_EQ(inst.exit_code, 0) << describe(inst);
  ASSERT_TRUE(fs::exists(prefix + "/bin/metamerlab"));
  for (const char* f : {"models/emoji16-standard.pt", "models/words16-robust.pt.json", "experiments/demo-images.toml",
                        "experiments/icons-emoji16/cat.png", "stimuli/samples/emoji16/reference",
                        "stimuli/emoji16_icons.tsv", "package-lock.json"})
    EXPECT_TRUE(fs::exists(prefix + "/share/metamerlab/" + f)) << f;
  expect_installed_program_works(prefix + "/bin/metamerlab", prefix + "/share/metamerlab", work);
}

TEST(Install, DebPackageDeclaresItsDependenciesAndInstalls) {
  ASSERT_TRUE(can_hide()) << "this test hides the source tree with unshare --mount (needs root); run it as root";
  OutsideDir tmp;
  const auto pack = run("cd " + q(METAMERLAB_BUILD_DIR) + " && cpack -G DEB -B " + q(tmp.path + "/deb"));
  ASSERT_EQ(pack.exit_code, 0) << describe(pack);
  std::string deb;
  for (const auto& e : fs::directory_iterator(tmp.path + "/deb"))
    if (e.path().extension() == ".deb") deb = e.path().string();
  ASSERT_FALSE(deb.empty()) << pack.out;
  EXPECT_EQ(fs::path(deb).filename().string().rfind("metamerlab_", 0), 0u) << deb;

  const auto dep = run("dpkg-deb -f " + q(deb) + " Depends");
  ASSERT_EQ(dep.exit_code, 0) << describe(dep);
  for (const char* lib : {"libtorch", "libsdl2", "libopenal", "libsndfile", "libsqlite3", "libnettle",
                          "libopenblas0-pthread"})
    EXPECT_NE(dep.out.find(lib), std::string::npos) << "Depends lacks " << lib << ": " << dep.out;

  // Unpacked anywhere, it runs: relocatable.
  const std::string root = tmp.path + "/unpacked", work = tmp.path + "/elsewhere";
  fs::create_directories(work);
  const auto x = run("dpkg-deb -x " + q(deb) + " " + q(root));
  ASSERT_EQ(x.exit_code, 0) << describe(x);
  expect_installed_program_works(root + "/usr/bin/metamerlab", root + "/usr/share/metamerlab", work);

  // apt-get install ./metamerlab_*.deb (root with apt only; every dependency is already
  // installed by tools/setup.sh, so nothing is downloaded), then removed again.
  if (::geteuid() != 0 || run("command -v apt-get").exit_code != 0) return;
  if (run("dpkg-query -W -f='${Status}' metamerlab 2>/dev/null | grep -q 'install ok'").exit_code == 0) {
    ADD_FAILURE() << "a metamerlab package is already installed; remove it (apt-get remove metamerlab) first";
    return;
  }
  const auto apt = run("DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends " + q(deb));
  ASSERT_EQ(apt.exit_code, 0) << describe(apt);
  const auto v = run("cd / && /usr/bin/metamerlab info --model zoo:words16-robust --threads 1");
  run("DEBIAN_FRONTEND=noninteractive apt-get remove -y -q metamerlab");
  ASSERT_EQ(v.exit_code, 0) << describe(v);
  EXPECT_NE(v.out.find("/usr/share/metamerlab/models/words16-robust.pt"), std::string::npos) << v.out;
}

}  // namespace
