#include "server/served_model.h"

#include <algorithm>
#include <chrono>
#include <filesystem>

namespace fathom::server {

ServedModel ServedModel::from_directory(const std::string& model_dir) {
  namespace fs = std::filesystem;
  ServedModel m;
  std::error_code ec;
  fs::path absolute = fs::weakly_canonical(fs::absolute(model_dir, ec), ec);
  if (ec) absolute = fs::path(model_dir);
  // "models/tiny/" names the same directory as "models/tiny".
  absolute = absolute.lexically_normal();
  if (!absolute.has_filename() && absolute.has_parent_path()) absolute = absolute.parent_path();
  m.id = absolute.filename().string();
  if (m.id.empty()) m.id = model_dir;
  for (const std::string& alias : {model_dir, absolute.string()}) {
    if (alias != m.id && std::find(m.aliases.begin(), m.aliases.end(), alias) == m.aliases.end()) m.aliases.push_back(alias);
  }
  m.created = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  return m;
}

bool ServedModel::matches(const std::string& name) const {
  return name == id || std::find(aliases.begin(), aliases.end(), name) != aliases.end();
}

}  // namespace fathom::server
