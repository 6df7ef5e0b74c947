// Replays fuzz inputs without libFuzzer: `parse_event_replay FILE_OR_DIR...` feeds every file
// (directories are walked recursively) to LLVMFuzzerTestOneInput. Lets the normal g++ build run
// the fuzz corpus as a regression test; a violated invariant aborts through __builtin_trap().
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <system_error>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

bool replay_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "cannot read %s\n", path.c_str());
    return false;
  }
  const std::vector<char> bytes((std::istreambuf_iterator<char>(in)),
                                std::istreambuf_iterator<char>());
  // Copy into an exactly sized heap block so ASan catches reads past the end.
  std::vector<std::uint8_t> exact(bytes.begin(), bytes.end());
  LLVMFuzzerTestOneInput(exact.data(), exact.size());
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s FILE_OR_DIR...\n", argv[0]);
    return 2;
  }
  std::size_t files = 0;
  bool ok = true;
  for (int i = 1; i < argc; ++i) {
    const std::filesystem::path arg(argv[i]);
    std::error_code ec;
    if (std::filesystem::is_directory(arg, ec)) {
      for (auto it = std::filesystem::recursive_directory_iterator(arg, ec);
           !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
        if (it->is_regular_file(ec)) {
          ok = replay_file(it->path()) && ok;
          ++files;
        }
      }
      if (ec) {
        std::fprintf(stderr, "cannot walk %s: %s\n", argv[i], ec.message().c_str());
        ok = false;
      }
    } else if (std::filesystem::is_regular_file(arg, ec)) {
      ok = replay_file(arg) && ok;
      ++files;
    } else {
      std::fprintf(stderr, "no such file or directory: %s\n", argv[i]);
      ok = false;
    }
  }
  std::printf("replayed %zu inputs\n", files);
  return ok && files > 0 ? 0 : 1;
}
