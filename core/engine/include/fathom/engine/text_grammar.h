// Structured output beyond JSON (vLLM's `structured_outputs` `regex` and `choice`): grammars
// whose sentences are plain texts, written as themselves (UTF-8), not as JSON values.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "fathom/engine/grammar.h"

namespace fathom::engine {

// The texts `pattern` matches whole, as Python's re.fullmatch does: the regular-expression subset
// JSON schemas' `pattern` takes (json_string_pattern.h), `^` and `$` allowed at the ends. `field`
// names the request field in errors (invalid_argument for a malformed expression, unsupported
// for what the subset leaves out).
std::shared_ptr<const Grammar> regex_grammar(std::string_view pattern, const std::string& field);

// The texts a GBNF grammar (llama.cpp's notation, also vLLM's "EBNF" through xgrammar) derives
// from its rule `root`; see gbnf_grammar.cpp for what is read. `field` names the request field in
// errors (invalid_argument with the line and column, or naming the rule: undefined, defined
// twice, left-recursive; unsupported for counts above 1000 or a grammar too large).
std::shared_ptr<const Grammar> gbnf_grammar(std::string_view text, const std::string& field);

// Exactly one of `choices` (each non-empty, valid UTF-8; invalid_argument otherwise, naming
// `field`).
std::shared_ptr<const Grammar> choice_grammar(const std::vector<std::string>& choices, const std::string& field);

}  // namespace fathom::engine
