// The tokenizer of a DeepSeek model: text ↔ token ids, exactly as Hugging Face
// `tokenizers` does it with the model's tokenizer.json, plus the chat format.
//
//   auto tok = fathom::tokenizer::Tokenizer::load("/models/DeepSeek-V3");
//   std::vector<TokenId> ids = tok.encode("Hello", /*add_special_tokens=*/true);
//   std::string text = tok.decode(ids);
//
// A Tokenizer is cheap to copy (copies share one immutable state) and safe to
// use from several threads at once.
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "fathom/tokenizer/chat_messages.h"
#include "fathom/tokenizer/types.h"

namespace fathom::tokenizer {

class ChatTemplate;
class StreamDecoder;
struct TokenizerModel;
struct TokenizerConfig;

class Tokenizer {
 public:
  // `path`: a model directory holding tokenizer.json (and usually
  // tokenizer_config.json), a tokenizer.json file, or a GGUF model file (its
  // tokenizer.ggml.* metadata). Throws fathom::Error:
  // not_found, io, invalid_argument (malformed file: names file and field),
  // unsupported (a tokenizer kind or component Fathom does not implement).
  static Tokenizer load(const std::filesystem::path& path);

  // From parsed parts; `config_file` names the config in error messages.
  Tokenizer(TokenizerModel model, const TokenizerConfig& config, const std::string& config_file);

  // Text → ids. Added tokens in the text (e.g. "<｜User｜>") always become
  // their ids, as in Hugging Face. `add_special_tokens` adds BOS/EOS as
  // tokenizer_config.json says (add_bos_token / add_eos_token), as
  // transformers' LlamaTokenizerFast does. Throws invalid_argument when `text`
  // is not valid UTF-8.
  std::vector<TokenId> encode(std::string_view text, bool add_special_tokens = false) const;
  // Appends to `ids` instead of returning a new vector.
  void encode_into(std::string_view text, bool add_special_tokens, std::vector<TokenId>& ids) const;

  // Ids → text. Bytes that do not form UTF-8 become U+FFFD (as Hugging Face's
  // lossy decode does). Throws out_of_range for an id no token has (Hugging
  // Face would drop it silently; in Fathom it means a bug upstream).
  std::string decode(std::span<const TokenId> ids, bool skip_special_tokens = false) const;

  // Forgets the encodings of recent words (the cache that makes repeated
  // words cheap). Results never change; benchmarks use it to time cold encoding.
  void clear_caches() const;

  // For streaming generation: feeds ids one at a time, emits only complete characters.
  StreamDecoder stream_decoder(bool skip_special_tokens = false) const;

  // Vocabulary.
  std::size_t id_limit() const;  // one past the largest id
  bool contains(TokenId id) const;
  std::optional<TokenId> token_to_id(std::string_view token) const;  // vocabulary spelling or added-token content
  std::string_view id_to_token(TokenId id) const;                     // throws out_of_range
  std::string_view token_bytes(TokenId id) const;                     // what decode emits for id; throws out_of_range
  bool is_special(TokenId id) const;                                  // throws out_of_range

  std::optional<TokenId> bos_id() const;
  std::optional<TokenId> eos_id() const;

  // Chat format: the Jinja chat_template of tokenizer_config.json (or
  // chat_template.jinja), run as transformers' apply_chat_template does.
  // render_chat throws not_found when there is none, unsupported when it uses
  // Jinja Fathom does not run, invalid_argument when it fails on this
  // conversation. `variables` are extra globals: tools, chat_template_kwargs.
  bool has_chat_template() const;
  std::string render_chat(std::span<const ChatMessage> messages, bool add_generation_prompt,
                          const jinja::Dict& variables = {}) const;
  // Whether the chat template reads this variable ("tools": can it present tools?).
  bool chat_template_reads(std::string_view variable) const;
  // Replaces the model's chat template (fathom serve --chat-template FILE); a
  // template Fathom cannot run is refused here. Call before sharing the
  // tokenizer: copies share the template.
  void use_chat_template_file(const std::filesystem::path& path);

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace fathom::tokenizer
