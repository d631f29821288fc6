#include "test_support.h"

#include <unistd.h>

#include <fstream>
#include <stdexcept>

namespace fathom::tokenizer::testing {

const Tokenizer& deepseek_v3() {
  static const Tokenizer tokenizer = Tokenizer::load(kModelDir);
  return tokenizer;
}

std::vector<nlohmann::json> read_jsonl(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open " + path.string());
  std::vector<nlohmann::json> lines;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) lines.push_back(nlohmann::json::parse(line));
  }
  return lines;
}

namespace {
struct TempDirs {
  std::vector<std::filesystem::path> paths;
  ~TempDirs() {
    std::error_code ec;
    for (const auto& path : paths) std::filesystem::remove_all(path, ec);
  }
};
}  // namespace

std::filesystem::path make_temp_dir(const std::string& name) {
  static TempDirs dirs;
  const auto path = std::filesystem::temp_directory_path() /
                    ("fathom-tokenizer-test-" + std::to_string(::getpid()) + "-" + name);
  std::filesystem::remove_all(path);
  std::filesystem::create_directories(path);
  dirs.paths.push_back(path);
  return path;
}

}  // namespace fathom::tokenizer::testing
