// A request body of arbitrary bytes for POST /v1/chat/completions or /v1/completions (the first
// byte picks which) goes the way the server takes it before the engine: parsed and checked, then
// rendered with DeepSeek-V3's chat template, encoded and fitted to the context. Every refusal is
// an ApiError (a fathom::Error), and each prompt of an accepted request fits the context it was given.
#include <string>

#include "deepseek_tokenizer.h"
#include "fuzz_support.h"
#include "server/generation_request.h"
#include "server/openai_request.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const bool chat = data[0] % 2 == 0;
  const std::string_view body = fathom::fuzz::as_text(data + 1, size - 1);
  fathom::fuzz::expect_only_fathom_errors([&] {
    const auto request = chat ? fathom::server::parse_chat_completion_request(body)
                              : fathom::server::parse_completion_request(body);
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
