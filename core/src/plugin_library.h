// One plugin shared library, opened and its ABI table validated. Internal to core.
#pragma once

#include <boost/dll/shared_library.hpp>

#include <filesystem>
#include <memory>
#include <string>

#include "fathom/plugin_api.h"

namespace fathom {

class PluginLibrary {
 public:
  // Opens `path` and checks the entry symbol and table. Never throws for a bad plugin: the
  // result says why it was refused (refusal() non-empty) and api() is then null.
  static std::shared_ptr<PluginLibrary> open(const std::filesystem::path& path, const std::string& expected_name);

  const std::filesystem::path& path() const { return path_; }
  const fathom_backend_api* api() const { return api_; }
  const std::string& refusal() const { return refusal_; }
  const std::string& name() const { return name_; }

 private:
  std::filesystem::path path_;
  boost::dll::shared_library library_;
  const fathom_backend_api* api_ = nullptr;
  std::string refusal_;
  std::string name_;
};

}  // namespace fathom
