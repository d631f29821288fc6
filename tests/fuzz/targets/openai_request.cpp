// A request body of arbitrary bytes for POST /v1/chat/completions, /v1/completions or
// /v1/responses (the first byte picks which) goes the way the server takes it before the engine:
// a Responses body translated into its chat request, then parsed and checked, rendered with
// DeepSeek-V3's chat template, encoded and fitted to the context. Every refusal is an ApiError (a
// fathom::Error), and each prompt of an accepted request fits the context it was given. The same
// bytes, read as a chat stream, go through the Responses stream translation in two pieces.
#include <string>

#include "deepseek_tokenizer.h"
#include "fuzz_support.h"
#include "server/generation_request.h"
#include "server/openai_request.h"
#include "server/responses_api.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const int kind = data[0] % 3;  // 0: chat, 1: completions, 2: responses
  const bool chat = kind != 1;
  const std::string_view body = fathom::fuzz::as_text(data + 1, size - 1);
  fathom::fuzz::expect_only_fathom_errors([&] {
    if (kind == 2) {
      fathom::server::ResponseStream stream(nlohmann::json{{"model", "m"}});
      stream.translate(body.substr(0, body.size() / 2));
      stream.translate(body.substr(body.size() / 2));
    }
    const std::string translated = kind == 2 ? fathom::server::chat_request_from_responses(body) : std::string(body);
    const auto request = chat ? fathom::server::parse_chat_completion_request(translated)
                              : fathom::server::parse_completion_request(translated);
    fathom::server::RequestDefaults defaults;
    defaults.max_seq_len = 256;
    defaults.max_new_tokens = 64;
    const auto prompts = fathom::server::build_generation_requests(request, fathom::fuzz::deepseek_tokenizer(), defaults);
    if (prompts.empty()) fathom::fuzz::fail("an accepted request has no prompt", body);
    for (const auto& generation : prompts) {
      const auto total = static_cast<std::int64_t>(generation.prompt.size()) + generation.max_new_tokens;
      if (generation.prompt.empty() || (generation.max_new_tokens < 1 && !request.echo) || total > defaults.max_seq_len) {
        fathom::fuzz::fail("an accepted request does not fit its context", body);
      }
    }
  });
  return 0;
}
