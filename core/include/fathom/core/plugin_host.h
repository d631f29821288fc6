// Finds, loads and vets backend plugins.
//
// Search order: the folders of runtime.plugin_path (then any added with add_search_dir), then
// the folder of the running executable — never the current directory. A file named
// libfathom-backend-<name>.so provides backend <name>; when two folders hold the same name the
// first wins and the later one is reported as shadowed.
//
// A plugin that is not a shared library, lacks the entry symbol, returns NULL, speaks another
// ABI major, says (probe) that it cannot run here, or fails or throws in create() is refused
// with its reason; the others keep working. A [backend.<name>] table with a key the plugin does
// not declare, or a value of the wrong type, is a configuration error (thrown).
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "fathom/core/backend.h"
#include "fathom/core/config.h"

namespace fathom {

struct OptionInfo {
  std::string name;
  std::string type;  // "bool", "int", "float", "string"
  std::string default_value;
  std::string doc;
};

struct PluginRecord {
  enum class State { found, loaded, refused, shadowed };
  std::string name;
  std::filesystem::path path;
  State state = State::found;
  std::string reason;    // why refused / shadowed
  std::string version;
  std::string abi;       // "1.0"
  std::vector<DeviceInfo> devices;
  std::vector<uint32_t> ops;
  std::vector<OptionInfo> options;
  std::shared_ptr<BackendInstance> backend;  // set when loaded
};

std::string_view plugin_state_name(PluginRecord::State state);

class PluginHost {
 public:
  explicit PluginHost(const Config& config);

  // Folders searched before the configured ones (e.g. from --plugin-path).
  void add_search_dir(const std::filesystem::path& dir);
  std::vector<std::filesystem::path> search_dirs() const;

  // Loads every plugin found (for `fathom backends`, which lists each refusal's reason).
  void load_all();
  // The loaded backend `name`; loads it on first use. Throws not_found (no such plugin) or
  // unavailable (refused, with the reason).
  std::shared_ptr<BackendInstance> backend(const std::string& name);
  // runtime.backends in order — the fallback chain. Every listed backend must load. Under
  // "auto": the candidates (kAutoBackendCandidates) that load; unavailable if none does.
  std::vector<std::shared_ptr<BackendInstance>> backend_chain();

  // What "auto" picks here, and why each other candidate was passed over ("cuda: cannot run
  // here: ...", "hip: no plugin"). Loads the candidates; does not depend on runtime.backends.
  struct AutoChain {
    std::vector<std::shared_ptr<BackendInstance>> backends;
    std::vector<std::string> skipped;
  };
  AutoChain automatic_chain();

  // Every plugin file found so far, in search order.
  std::vector<const PluginRecord*> records();

 private:
  void scan();
  // absence_expected: a probe's "cannot run here" is logged as information, not a warning (a
  // GPU plugin on a machine without that GPU, considered by "auto").
  PluginRecord& load(PluginRecord& record, bool absence_expected);

  const Config& config_;
  std::vector<std::filesystem::path> extra_dirs_;
  bool scanned_ = false;
  std::vector<std::unique_ptr<PluginRecord>> records_;
};

}  // namespace fathom
