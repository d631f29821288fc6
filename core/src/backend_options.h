// The bridge from a [backend.<name>] TOML table to the plugin's fathom_options accessor.
#pragma once

#include <toml++/toml.h>

#include <string>

#include "fathom/core/config.h"
#include "fathom/plugin_api.h"

namespace fathom {

// Checks `table` (may be null: no table) against the plugin's declared options. Throws
// invalid_argument with file:line:column for an unknown key or a value of the wrong type.
void validate_backend_options(const std::string& backend, const fathom_option_decl* declared, const BackendTable* table);

// Read access for the plugin. Holds a copy of the table; must outlive the create() call.
class BackendOptions {
 public:
  explicit BackendOptions(const BackendTable* table);
  BackendOptions(const BackendOptions&) = delete;  // abi() points into this object
  BackendOptions& operator=(const BackendOptions&) = delete;
  const fathom_options& abi() const { return abi_; }

 private:
  toml::table values_;
  fathom_options abi_{};
};

}  // namespace fathom
