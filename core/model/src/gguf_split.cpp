#include "fathom/model/gguf_split.h"

#include <cstdio>
#include <optional>
#include <string>
#include <system_error>

#include "fathom/core/error.h"

namespace fathom::model {
namespace {

// Where a part stands: index from 0, of count parts.
struct Place {
  std::int64_t index = 0;
  std::int64_t count = 1;
};

// This file's place in a split model, or nothing for a whole file (no split.count, or 1).
std::optional<Place> place_of(const GgufFile& f) {
  const auto count = f.optional_integer("split.count");
  if (!count || *count == 1) return std::nullopt;
  // The names carry five digits; llama.cpp stores the count as a u16.
  if (*count < 1 || *count > 99999) {
    throw invalid_argument(f.where("split.count") + ": " + std::to_string(*count) + " parts (must be 1 to 99999)");
  }
  const auto index = f.optional_integer("split.no");
  if (!index) {
    throw invalid_argument(f.where("split.no") + ": missing in a part of a model split into " + std::to_string(*count));
  }
  if (*index < 0 || *index >= *count) {
    throw invalid_argument(f.where("split.no") + ": " + std::to_string(*index) + " is not a part of " +
                           std::to_string(*count) + " (parts count from 0)");
  }
  return Place{*index, *count};
}

// "-00003-of-00009.gguf" for index 2 of 9: llama.cpp's names count from 1.
std::string name_suffix(std::int64_t index, std::int64_t count) {
  char text[64];
  std::snprintf(text, sizeof text, "-%05lld-of-%05lld.gguf", static_cast<long long>(index + 1),
                static_cast<long long>(count));
  return text;
}

std::string part_words(std::int64_t index, std::int64_t count) {
  return "part " + std::to_string(index + 1) + " of " + std::to_string(count);
}

// The path of part `wanted` of the model `f` (at `place`) belongs to, from f's own name.
std::filesystem::path sibling(const GgufFile& f, Place place, std::int64_t wanted) {
  const std::string name = f.path().filename().string();
  const std::string suffix = name_suffix(place.index, place.count);
  if (!name.ends_with(suffix)) {
    throw invalid_argument(f.where("split.no") + ": " + part_words(place.index, place.count) +
                           " of a split model, but the file name does not end in '" + suffix +
                           "', so the other parts cannot be found (they are named PREFIX" +
                           name_suffix(0, place.count) + " and so on, as llama-gguf-split writes them)");
  }
  return f.path().parent_path() / (name.substr(0, name.size() - suffix.size()) + name_suffix(wanted, place.count));
}

// Part `index` at `path`, checked to say so; `named_by` is the part its name was derived from.
std::unique_ptr<GgufFile> open_part(const std::filesystem::path& path, Place expected, const GgufFile& named_by) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    throw not_found(named_by.where("split.count") + ": " + part_words(expected.index, expected.count) +
                    " of this split model should be " + path.string() + ", which does not exist");
  }
  auto part = std::make_unique<GgufFile>(path);
  const auto place = place_of(*part);
  if (!place || place->count != expected.count) {
    throw invalid_argument(part->where("split.count") + ": " + (place ? std::to_string(place->count) : "absent") +
                           ", but " + named_by.path().string() + " belongs to a model of " +
                           std::to_string(expected.count) + " parts");
  }
  if (place->index != expected.index) {
    throw invalid_argument(part->where("split.no") + ": says " + part_words(place->index, place->count) +
                           ", but its name makes it " + part_words(expected.index, expected.count));
  }
  return part;
}

}  // namespace

std::vector<std::unique_ptr<GgufFile>> open_gguf_parts(const std::filesystem::path& path) {
  auto given = std::make_unique<GgufFile>(path);
  const auto place = place_of(*given);
  std::vector<std::unique_ptr<GgufFile>> parts;
  if (!place) {
    parts.push_back(std::move(given));
    return parts;
  }
  std::vector<std::filesystem::path> paths;
  for (std::int64_t i = 0; i < place->count; ++i) paths.push_back(sibling(*given, *place, i));
  parts.resize(static_cast<std::size_t>(place->count));
  for (std::int64_t i = 0; i < place->count; ++i) {
    if (i != place->index) parts[static_cast<std::size_t>(i)] = open_part(paths[static_cast<std::size_t>(i)], {i, place->count}, *given);
  }
  parts[static_cast<std::size_t>(place->index)] = std::move(given);

  std::int64_t tensors = 0;
  for (const auto& part : parts) tensors += static_cast<std::int64_t>(part->tensors().size());
  const GgufFile& first = *parts.front();
  if (const auto promised = first.optional_integer("split.tensors.count"); promised && *promised != tensors) {
    throw invalid_argument(first.where("split.tensors.count") + ": " + std::to_string(*promised) + " tensors, but the " +
                           std::to_string(place->count) + " parts hold " + std::to_string(tensors));
  }
  return parts;
}

std::unique_ptr<GgufFile> open_gguf_metadata(const std::filesystem::path& path) {
  auto given = std::make_unique<GgufFile>(path);
  const auto place = place_of(*given);
  if (!place || place->index == 0) return given;
  return open_part(sibling(*given, *place, 0), {0, place->count}, *given);
}

}  // namespace fathom::model
