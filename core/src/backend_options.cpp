#include "backend_options.h"

#include "fathom/core/error.h"
#include "toml_reader.h"

namespace fathom {

void validate_backend_options(const std::string& backend, const fathom_option_decl* declared, const BackendTable* table) {
  if (!table) return;
  detail::TomlTableReader reader(*table->values, "backend." + backend, table->where.file);
  for (const fathom_option_decl* d = declared; d && d->name; ++d) {
    switch (d->type) {
      case FATHOM_OPTION_BOOL: reader.boolean(d->name); break;
      case FATHOM_OPTION_INT: reader.integer(d->name, INT64_MIN, INT64_MAX); break;
      case FATHOM_OPTION_FLOAT: reader.number(d->name, -1e308, 1e308); break;
      case FATHOM_OPTION_STRING: reader.string(d->name); break;
      default:
        throw internal_error("backend '" + backend + "' declares option '" + d->name + "' with unknown type " +
                             std::to_string(d->type));
    }
  }
  reader.reject_unknown_keys();
}

namespace {

const toml::table& table_of(const void* context) { return *static_cast<const toml::table*>(context); }

int32_t get_bool(const void* context, const char* key, int32_t* out) {
  auto v = table_of(context)[key].value<bool>();
  if (!v) return 0;
  *out = *v ? 1 : 0;
  return 1;
}
int32_t get_int(const void* context, const char* key, int64_t* out) {
  auto v = table_of(context)[key].value<int64_t>();
  if (!v) return 0;
  *out = *v;
  return 1;
}
int32_t get_float(const void* context, const char* key, double* out) {
  auto v = table_of(context)[key].value<double>();  // toml++ widens integers
  if (!v) return 0;
  *out = *v;
  return 1;
}
int32_t get_string(const void* context, const char* key, const char** out) {
  const toml::node* node = table_of(context).get(key);
  if (!node || !node->is_string()) return 0;
  *out = node->as_string()->get().c_str();
  return 1;
}

}  // namespace

BackendOptions::BackendOptions(const BackendTable* table) {
  if (table) values_ = *table->values;
  abi_ = fathom_options{&values_, get_bool, get_int, get_float, get_string};
}

}  // namespace fathom
