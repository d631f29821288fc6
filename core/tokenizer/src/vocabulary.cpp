#include "fathom/tokenizer/vocabulary.h"

#include "fathom/core/error.h"

namespace fathom::tokenizer {

Vocabulary::Vocabulary(const std::vector<VocabEntry>& entries) {
  std::size_t limit = 0;
  for (const VocabEntry& entry : entries) limit = std::max<std::size_t>(limit, std::size_t{entry.id} + 1);

  std::vector<const VocabEntry*> by_id(limit, nullptr);
  for (const VocabEntry& entry : entries) {
    if (const VocabEntry* replaced = by_id[entry.id]) {
      const auto it = ids_by_text_.find(replaced->text);
      if (it != ids_by_text_.end() && it->second == entry.id) ids_by_text_.erase(it);
    }
    by_id[entry.id] = &entry;
    ids_by_text_.insert_or_assign(entry.text, entry.id);
  }

  flags_.assign(limit, 0);
  bounds_.reserve(2 * limit + 1);
  for (std::size_t id = 0; id < limit; ++id) {
    const VocabEntry* entry = by_id[id];
    bounds_.push_back(static_cast<std::uint32_t>(storage_.size()));
    if (entry) storage_ += entry->text;
    bounds_.push_back(static_cast<std::uint32_t>(storage_.size()));
    if (entry) storage_ += entry->bytes;
    if (entry) flags_[id] = kPresent | (entry->special ? kSpecial : 0);
  }
  bounds_.push_back(static_cast<std::uint32_t>(storage_.size()));
  if (storage_.size() > UINT32_MAX) throw invalid_argument("tokenizer: vocabulary text exceeds 4 GiB");
}

std::optional<TokenId> Vocabulary::find(std::string_view text) const {
  const auto it = ids_by_text_.find(text);
  if (it == ids_by_text_.end()) return std::nullopt;
  return it->second;
}

}  // namespace fathom::tokenizer
