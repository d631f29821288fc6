#include "fathom/engine/text_grammar.h"

#include <nlohmann/json.hpp>

#include "fathom/core/error.h"
#include "json_string_pattern.h"

namespace fathom::engine {

std::shared_ptr<const Grammar> regex_grammar(std::string_view pattern, const std::string& field) {
  GrammarBuilder g;
  const uint32_t root = pattern_text(g, pattern, field);
  return std::make_shared<const Grammar>(g.build(root, "regex:" + std::string(pattern)));
}

std::shared_ptr<const Grammar> choice_grammar(const std::vector<std::string>& choices, const std::string& field) {
  if (choices.empty()) throw invalid_argument("'" + field + "' must list at least one choice");
  GrammarBuilder g;
  std::vector<GrammarBuilder::Seq> alternatives;
  nlohmann::json key = nlohmann::json::array();
  for (const std::string& choice : choices) {
    if (choice.empty()) throw invalid_argument("'" + field + "' holds an empty choice, which could not end the text");
    try {
      key.push_back(choice);
      (void)key.dump();  // throws on invalid UTF-8
    } catch (const nlohmann::json::exception&) {
      throw invalid_argument("'" + field + "' holds a choice that is not valid UTF-8");
    }
    alternatives.push_back(g.text(choice));
  }
  const uint32_t root = g.rule("choice", std::move(alternatives));
  return std::make_shared<const Grammar>(g.build(root, "choice:" + key.dump()));
}

}  // namespace fathom::engine
