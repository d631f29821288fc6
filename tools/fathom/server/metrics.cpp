#include "server/metrics.h"

#include <cstdint>
#include <sstream>
#include <tuple>

namespace fathom::server {

namespace {

// A label value with the characters the text format escapes.
std::string escaped(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

// Adds the model label to every sample line of a histogram's exposition.
std::string labelled(const std::string& exposition, const std::string& label) {
  std::istringstream in(exposition);
  std::ostringstream out;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line[0] != '#') {
      const size_t space = line.find(' ');
      const size_t brace = line.find('{');
      if (brace != std::string::npos && brace < space) {
        line.insert(brace + 1, label + ",");
      } else {
        line.insert(space, "{" + label + "}");
      }
    }
    out << line << "\n";
  }
  return out.str();
}

}  // namespace

std::string prometheus_metrics(const EngineLoop& loop, const std::string& model_id) {
  const EngineStats s = loop.stats();
  const std::string label = "model_name=\"" + escaped(model_id) + "\"";
  std::ostringstream out;
  auto metric = [&](const char* name, const char* type, const char* help, uint64_t value) {
    out << "# HELP " << name << " " << help << "\n# TYPE " << name << " " << type << "\n";
    out << name << "{" << label << "} " << value << "\n";
  };
  metric("fathom_requests_running", "gauge", "Requests in the running batch (prefilling or decoding).", s.running);
  metric("fathom_requests_waiting", "gauge", "Requests waiting for a batch slot.", s.waiting);
  out << "# HELP fathom_requests_total Requests ended, by how they ended.\n# TYPE fathom_requests_total counter\n";
  for (const auto& [outcome, n] : {std::pair{"completed", s.completed}, {"cancelled", s.cancelled}, {"failed", s.failed}}) {
    out << "fathom_requests_total{" << label << ",outcome=\"" << outcome << "\"} " << n << "\n";
  }
  metric("fathom_prompt_tokens_total", "counter", "Prompt tokens admitted.", s.prompts.prompt_tokens);
  metric("fathom_prompt_tokens_cached_total", "counter", "Prompt tokens whose cache entries were reused (prefix caching).",
         s.prompts.cached_tokens);
  metric("fathom_generation_tokens_total", "counter", "Tokens generated.", s.generated_tokens);
  metric("fathom_speculative_draft_tokens_total", "counter", "Draft tokens verified (speculative decoding).", s.drafts.drafted);
  metric("fathom_speculative_accepted_tokens_total", "counter", "Draft tokens accepted.", s.drafts.accepted);
  // By place in a step's drafts (1 = the first draft): how acceptance falls off with depth.
  for (const auto& [name, help, counts] :
       {std::tuple{"fathom_speculative_draft_tokens_by_place_total", "Draft tokens verified, by place in a step's drafts.",
                   &s.drafts.drafted_at},
        std::tuple{"fathom_speculative_accepted_tokens_by_place_total", "Draft tokens accepted, by place in a step's drafts.",
                   &s.drafts.accepted_at}}) {
    if (counts->empty()) continue;
    out << "# HELP " << name << " " << help << "\n# TYPE " << name << " counter\n";
    for (size_t j = 0; j < counts->size(); ++j) {
      out << name << "{" << label << ",place=\"" << j + 1 << "\"} " << (*counts)[j] << "\n";
    }
  }
  metric("fathom_structured_output_grammars_built_total", "counter",
         "Grammar automata built for structured output (JSON schemas).", s.grammars.built);
  metric("fathom_structured_output_grammars_reused_total", "counter",
         "Sequences that found their grammar's automaton already built (other choices, equal schemas).", s.grammars.reused);
  out << labelled(loop.time_to_first_token().exposition("fathom_time_to_first_token_seconds",
                                                        "From submission to the first token."),
                  label);
  out << labelled(loop.request_duration().exposition("fathom_request_duration_seconds",
                                                     "From submission to the last token, of requests that completed."),
                  label);
  return out.str();
}

}  // namespace fathom::server
