// The one model a `fathom serve` process serves, as /v1/models lists it and as requests name it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace fathom::server {

struct ServedModel {
  std::string id;                    // the model directory's name, e.g. "DeepSeek-V3"
  std::vector<std::string> aliases;  // also accepted in requests: the path as given, its absolute form
  int64_t created = 0;               // Unix seconds, when the server loaded it

  // From the --model argument.
  static ServedModel from_directory(const std::string& model_dir);
  bool matches(const std::string& name) const;
};

}  // namespace fathom::server
