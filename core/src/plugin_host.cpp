#include "fathom/core/plugin_host.h"

#include <boost/dll/runtime_symbol_info.hpp>

#include <algorithm>
#include <exception>
#include <system_error>

#include "backend_options.h"
#include "fathom/core/error.h"
#include "fathom/core/logging.h"
#include "plugin_library.h"

namespace fathom {

namespace {

constexpr std::string_view kPrefix = "libfathom-backend-";
constexpr std::string_view kSuffix = ".so";

// "libfathom-backend-cpu.so" → "cpu"; anything else → "".
std::string backend_name_from_file(const std::filesystem::path& file) {
  std::string f = file.filename().string();
  if (f.size() <= kPrefix.size() + kSuffix.size() || !f.starts_with(kPrefix) || !f.ends_with(kSuffix)) return "";
  return f.substr(kPrefix.size(), f.size() - kPrefix.size() - kSuffix.size());
}

void log_from_plugin(void* context, int32_t level, const char* message) {
  const auto* name = static_cast<const std::string*>(context);
  static const spdlog::level::level_enum levels[] = {spdlog::level::trace, spdlog::level::debug, spdlog::level::info,
                                                     spdlog::level::warn, spdlog::level::err};
  auto lvl = levels[std::clamp(level, 0, 4)];
  log().log(lvl, "[{}] {}", *name, message ? message : "");
}

std::string option_type_name(uint32_t type) {
  switch (type) {
    case FATHOM_OPTION_BOOL: return "bool";
    case FATHOM_OPTION_INT: return "int";
    case FATHOM_OPTION_FLOAT: return "float";
    case FATHOM_OPTION_STRING: return "string";
    default: return "?";
  }
}

}  // namespace

std::string_view plugin_state_name(PluginRecord::State state) {
  switch (state) {
    case PluginRecord::State::found: return "found";
    case PluginRecord::State::loaded: return "loaded";
    case PluginRecord::State::refused: return "refused";
    case PluginRecord::State::shadowed: return "shadowed";
  }
  return "?";
}

PluginHost::PluginHost(const Config& config) : config_(config) {}

void PluginHost::add_search_dir(const std::filesystem::path& dir) {
  extra_dirs_.push_back(dir);
  scanned_ = false;
}

std::vector<std::filesystem::path> PluginHost::search_dirs() const {
  std::vector<std::filesystem::path> dirs = extra_dirs_;
  dirs.insert(dirs.end(), config_.runtime.plugin_path.begin(), config_.runtime.plugin_path.end());
  boost::dll::fs::error_code ec;
  auto exe = boost::dll::program_location(ec);
  if (!ec) dirs.push_back(std::filesystem::path(exe.parent_path().string()));
  return dirs;
}

void PluginHost::scan() {
  if (scanned_) return;
  scanned_ = true;
  for (const auto& dir : search_dirs()) {
    std::error_code ec;
    if (!std::filesystem::is_directory(dir, ec)) {
      log().debug("plugin folder '{}' does not exist; skipped", dir.string());
      continue;
    }
    std::vector<std::filesystem::path> files;
    for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
      if (!backend_name_from_file(entry.path()).empty()) files.push_back(entry.path());
    }
    std::sort(files.begin(), files.end());
    for (const auto& file : files) {
      std::string name = backend_name_from_file(file);
      auto same = std::find_if(records_.begin(), records_.end(), [&](const auto& r) {
        return r->name == name && r->state != PluginRecord::State::shadowed;
      });
      bool already_listed = std::any_of(records_.begin(), records_.end(), [&](const auto& r) {
        return std::filesystem::equivalent(r->path, file, ec);
      });
      if (already_listed) continue;
      auto record = std::make_unique<PluginRecord>();
      record->name = name;
      record->path = file;
      if (same != records_.end()) {
        record->state = PluginRecord::State::shadowed;
        record->reason = "shadowed by " + (*same)->path.string() + ", found earlier in the search path";
      }
      records_.push_back(std::move(record));
    }
  }
  // A [backend.<name>] table for a backend that no folder provides is most likely a typo.
  for (const auto& [name, table] : config_.backend_tables) {
    const bool found =
        std::any_of(records_.begin(), records_.end(), [&name = name](const auto& r) { return r->name == name; });
    if (!found) {
      throw invalid_argument(table.where.str() + ": [backend." + name + "]: no plugin libfathom-backend-" + name +
                             ".so in the plugin search path");
    }
  }
}

PluginRecord& PluginHost::load(PluginRecord& record, bool absence_expected) {
  if (record.state != PluginRecord::State::found) return record;
  auto refuse = [&](std::string why, spdlog::level::level_enum level = spdlog::level::warn) -> PluginRecord& {
    record.state = PluginRecord::State::refused;
    record.reason = std::move(why);
    log().log(level, "backend plugin {} refused: {}", record.path.string(), record.reason);
    return record;
  };

  auto library = PluginLibrary::open(record.path, record.name);
  if (!library->api()) return refuse(library->refusal());
  const fathom_backend_api& api = *library->api();
  record.version = api.version ? api.version : "?";
  record.abi = std::to_string(api.abi_major) + "." + std::to_string(api.abi_minor);
  for (const fathom_option_decl* d = api.options; d && d->name; ++d) {
    record.options.push_back({d->name, option_type_name(d->type), d->default_value ? d->default_value : "",
                              d->doc ? d->doc : ""});
  }

  char reason[512] = {0};
  int32_t score = 0;
  try {
    score = api.probe(reason, sizeof reason);
  } catch (...) {
    return refuse("its probe threw an exception");
  }
  reason[sizeof reason - 1] = '\0';
  if (score <= 0) {
    // No GPU on a machine that has the GPU plugins is normal when the chain is picked for it.
    return refuse(std::string("cannot run here: ") + (reason[0] ? reason : "probe returned 0"),
                  absence_expected ? spdlog::level::info : spdlog::level::warn);
  }

  // A configuration error in this backend's table is the user's to fix: thrown, not a refusal.
  const BackendTable* table = config_.backend_table(record.name);
  validate_backend_options(record.name, api.options, table);
  BackendOptions options(table);

  auto host_api = std::make_unique<fathom_host_api>();
  host_api->struct_size = sizeof(fathom_host_api);
  host_api->abi_minor = FATHOM_ABI_MINOR;
  host_api->context = const_cast<std::string*>(&library->name());
  host_api->log = log_from_plugin;

  fathom_backend* handle = nullptr;
  fathom_status status{};
  try {
    status = api.create(host_api.get(), &options.abi(), &handle);
  } catch (const std::exception& e) {
    return refuse(std::string("create() threw an exception across the ABI (plugins must return a status): ") + e.what());
  } catch (...) {
    return refuse("create() threw an exception across the ABI (plugins must return a status)");
  }
  if (status.code != FATHOM_STATUS_OK) {
    return refuse("create() failed: " + std::string(status.message ? status.message : "(no message)"));
  }
  if (!handle) return refuse("create() returned OK but no backend");

  auto backend = std::make_shared<BackendInstance>(library, std::move(host_api), handle);
  try {
    uint32_t n = backend->device_count();
    for (uint32_t d = 0; d < n; ++d) record.devices.push_back(backend->device_info(d));
    record.ops = backend->op_kinds();
  } catch (const Error& e) {
    return refuse(std::string("describing its devices failed: ") + e.what());
  }
  if (record.devices.empty()) return refuse("it reports no devices");
  record.backend = std::move(backend);
  record.state = PluginRecord::State::loaded;
  log().info("backend '{}' {} loaded from {}", record.name, record.version, record.path.string());
  return record;
}

void PluginHost::load_all() {
  scan();
  for (auto& r : records_) load(*r, /*absence_expected=*/true);  // the listing shows each reason
}

std::shared_ptr<BackendInstance> PluginHost::backend(const std::string& name) {
  scan();
  for (auto& r : records_) {
    if (r->name != name || r->state == PluginRecord::State::shadowed) continue;
    PluginRecord& rec = load(*r, /*absence_expected=*/false);
    if (rec.state == PluginRecord::State::loaded) return rec.backend;
    throw Error(ErrorCode::unavailable, "backend '" + name + "' (" + rec.path.string() + ") was refused: " + rec.reason);
  }
  std::string dirs;
  for (const auto& d : search_dirs()) dirs += (dirs.empty() ? "" : ", ") + d.string();
  throw not_found("backend '" + name + "': no plugin libfathom-backend-" + name + ".so in " + dirs);
}

std::vector<std::shared_ptr<BackendInstance>> PluginHost::backend_chain() {
  if (config_.runtime.auto_backends()) {
    AutoChain picked = automatic_chain();
    std::string skipped;
    for (const auto& s : picked.skipped) skipped += (skipped.empty() ? "" : "; ") + s;
    if (picked.backends.empty()) {
      throw Error(ErrorCode::unavailable, "runtime.backends = [\"auto\"] found no backend that runs here (" + skipped + ")");
    }
    log().info("backends (auto): {}{}", backend_names(picked.backends), skipped.empty() ? "" : " (passed over: " + skipped + ")");
    if (picked.backends.size() == 1 && picked.backends.front()->name() == "reference") {
      log().warn("runtime.backends = [\"auto\"] found only the reference backend (plain scalar code, the test oracle: "
                 "correct but slow); passed over: {}", skipped);
    }
    return picked.backends;
  }
  std::vector<std::shared_ptr<BackendInstance>> chain;
  for (const auto& name : config_.runtime.backends) chain.push_back(backend(name));
  return chain;
}

PluginHost::AutoChain PluginHost::automatic_chain() {
  scan();
  AutoChain chain;
  for (const char* name : kAutoBackendCandidates) {
    auto it = std::find_if(records_.begin(), records_.end(), [&](const auto& r) {
      return r->name == name && r->state != PluginRecord::State::shadowed;
    });
    if (it == records_.end()) {
      chain.skipped.push_back(std::string(name) + ": no plugin");
      continue;
    }
    PluginRecord& record = load(**it, /*absence_expected=*/true);
    if (record.state == PluginRecord::State::loaded) chain.backends.push_back(record.backend);
    else chain.skipped.push_back(std::string(name) + ": " + record.reason);
  }
  return chain;
}

std::vector<const PluginRecord*> PluginHost::records() {
  scan();
  std::vector<const PluginRecord*> out;
  for (const auto& r : records_) out.push_back(r.get());
  return out;
}

}  // namespace fathom
