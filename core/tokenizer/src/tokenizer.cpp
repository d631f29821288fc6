#include "fathom/tokenizer/tokenizer.h"

#include <fstream>
#include <sstream>

#include "fathom/core/error.h"
#include "fathom/model/gguf.h"
#include "fathom/tokenizer/chat_template.h"
#include "fathom/tokenizer/gguf_tokenizer.h"
#include "fathom/tokenizer/encode_workspace.h"
#include "fathom/tokenizer/json_field.h"
#include "fathom/tokenizer/stream_decoder.h"
#include "fathom/tokenizer/tokenizer_files.h"
#include "fathom/tokenizer/utf8.h"

namespace fathom::tokenizer {

// Shared by all copies of a Tokenizer. Everything is fixed after construction
// except the workspace pool, which hands each encode() call its own scratch.
struct Tokenizer::State {
  explicit State(TokenizerModel parsed) : model(std::move(parsed)) {}

  TokenizerModel model;
  std::optional<TokenId> bos;
  std::optional<TokenId> eos;
  bool add_bos = false;
  bool add_eos = false;
  std::optional<ChatTemplate> chat_template;
  std::string chat_template_error;  // set when the config's template cannot be rendered
  jinja::Dict template_special_tokens;  // bos_token, eos_token, ...: what the template sees
  WorkspacePool workspaces;
};

namespace {

std::string read_text_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw io_error(path.string() + ": cannot open");
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::optional<TokenId> resolve_token(const TokenizerModel& model, const std::optional<std::string>& token,
                                     const std::string& where) {
  if (!token) return std::nullopt;
  const auto id = model.vocabulary.find(*token);
  if (!id) throw invalid_argument(where + ": '" + *token + "' is not a token of tokenizer.json");
  return id;
}

void check_id(const Vocabulary& vocabulary, TokenId id) {
  if (!vocabulary.contains(id)) {
    throw out_of_range("tokenizer: token id " + std::to_string(id) + " is not in the vocabulary (ids below " +
                       std::to_string(vocabulary.id_limit()) + ")");
  }
}

}  // namespace

Tokenizer Tokenizer::load(const std::filesystem::path& path) {
  if (model::is_gguf_file(path)) return load_gguf_tokenizer(path);
  const TokenizerFiles files = find_tokenizer_files(path);
  const std::string json_file = files.tokenizer_json.string();
  TokenizerModel model = parse_tokenizer_json(read_json_file(json_file), json_file);

  TokenizerConfig config;
  std::string config_file = "tokenizer_config.json (absent)";
  if (files.tokenizer_config) {
    config_file = files.tokenizer_config->string();
    config = parse_tokenizer_config(read_json_file(config_file), config_file);
  }
  // Newer transformers releases keep the template in a file of its own.
  if (!config.chat_template && files.chat_template) {
    config.chat_template = read_text_file(*files.chat_template);
    config.chat_template_origin = files.chat_template->string();
  }
  return Tokenizer(std::move(model), config, config_file);
}

Tokenizer::Tokenizer(TokenizerModel model, const TokenizerConfig& config, const std::string& config_file)
    : state_(std::make_shared<State>(std::move(model))) {
  State& s = *state_;
  s.bos = resolve_token(s.model, config.bos_token, config_file + ": bos_token");
  s.eos = resolve_token(s.model, config.eos_token, config_file + ": eos_token");
  s.add_bos = config.add_bos_token;
  s.add_eos = config.add_eos_token;
  // The special tokens a chat template sees, as transformers passes them.
  const std::pair<const char*, const std::optional<std::string>*> named[] = {
      {"bos_token", &config.bos_token}, {"eos_token", &config.eos_token},
      {"unk_token", &config.unk_token}, {"pad_token", &config.pad_token}};
  for (const auto& [name, token] : named) {
    if (*token) s.template_special_tokens.emplace_back(name, jinja::Value(**token));
  }
  if (config.chat_template) {
    // A template Fathom cannot run does not stop tokenization; rendering reports it.
    try {
      s.chat_template = ChatTemplate::from_source(*config.chat_template, s.template_special_tokens,
                                                  config.chat_template_origin);
    } catch (const Error& e) {
      s.chat_template_error = e.what();
    }
  }
}

std::vector<TokenId> Tokenizer::encode(std::string_view text, bool add_special_tokens) const {
  std::vector<TokenId> ids;
  ids.reserve(text.size() / 3 + 2);
  encode_into(text, add_special_tokens, ids);
  return ids;
}

void Tokenizer::encode_into(std::string_view text, bool add_special_tokens, std::vector<TokenId>& ids) const {
  // Checked once here so the regex engine can skip its own check on every match.
  if (const std::size_t bad = utf8::find_invalid(text); bad != std::string_view::npos) {
    throw invalid_argument("tokenizer: input text is not valid UTF-8 (byte offset " + std::to_string(bad) + ")");
  }
  const State& s = *state_;
  if (add_special_tokens && s.add_bos) ids.push_back(*s.bos);

  const WorkspacePool::Lease workspace = state_->workspaces.acquire();
  workspace->segments.clear();
  s.model.added_tokens.split(text, workspace->segments);
  for (const TextSegment& segment : workspace->segments) {
    if (segment.added_token != kNoToken) {
      ids.push_back(segment.added_token);
      continue;
    }
    workspace->pieces.clear();
    s.model.pre_tokenizer.split(segment.text, workspace->match, workspace->pieces);
    for (const std::string_view piece : workspace->pieces) {
      // Single bytes are a table lookup; a cache probe would only cost more.
      if (piece.size() > 1 && workspace->cache.lookup(piece, ids)) continue;
      const std::size_t first = ids.size();
      s.model.bpe.encode_piece(piece, workspace->bpe, ids);
      if (piece.size() > 1) workspace->cache.insert(piece, std::span(ids).subspan(first));
    }
  }
  workspace->release_oversized_buffers();

  if (add_special_tokens && s.add_eos) ids.push_back(*s.eos);
}

std::string Tokenizer::decode(std::span<const TokenId> ids, bool skip_special_tokens) const {
  std::string bytes;
  for (const TokenId id : ids) {
    const std::string_view token = token_bytes(id);
    if (skip_special_tokens && state_->model.vocabulary.is_special(id)) continue;
    bytes.append(token);
  }
  if (utf8::is_valid(bytes)) return bytes;
  std::string text;
  utf8::append_lossy(text, bytes);
  return text;
}

void Tokenizer::clear_caches() const { state_->workspaces.clear_word_caches(); }

StreamDecoder Tokenizer::stream_decoder(bool skip_special_tokens) const { return StreamDecoder(*this, skip_special_tokens); }

std::size_t Tokenizer::id_limit() const { return state_->model.vocabulary.id_limit(); }

bool Tokenizer::contains(TokenId id) const { return state_->model.vocabulary.contains(id); }

std::optional<TokenId> Tokenizer::token_to_id(std::string_view token) const {
  return state_->model.vocabulary.find(token);
}

std::string_view Tokenizer::id_to_token(TokenId id) const {
  check_id(state_->model.vocabulary, id);
  return state_->model.vocabulary.text(id);
}

std::string_view Tokenizer::token_bytes(TokenId id) const {
  check_id(state_->model.vocabulary, id);
  return state_->model.vocabulary.bytes(id);
}

bool Tokenizer::is_special(TokenId id) const {
  check_id(state_->model.vocabulary, id);
  return state_->model.vocabulary.is_special(id);
}

std::optional<TokenId> Tokenizer::bos_id() const { return state_->bos; }
std::optional<TokenId> Tokenizer::eos_id() const { return state_->eos; }

bool Tokenizer::has_chat_template() const { return state_->chat_template || !state_->chat_template_error.empty(); }

std::string Tokenizer::render_chat(std::span<const ChatMessage> messages, bool add_generation_prompt,
                                   const jinja::Dict& variables) const {
  if (!state_->chat_template_error.empty()) throw unsupported(state_->chat_template_error);
  if (!state_->chat_template) throw not_found("tokenizer: tokenizer_config.json has no chat_template");
  return state_->chat_template->render(messages, add_generation_prompt, variables);
}

bool Tokenizer::chat_template_reads(std::string_view variable) const {
  return state_->chat_template && state_->chat_template->reads(variable);
}

void Tokenizer::use_chat_template_file(const std::filesystem::path& path) {
  state_->chat_template = ChatTemplate::from_source(read_text_file(path), state_->template_special_tokens, path.string());
  state_->chat_template_error.clear();
}

}  // namespace fathom::tokenizer
