// Fathom's Jinja interpreter against Hugging Face transformers' environment
// (gen_jinja_cases.py): whole chat templates — DeepSeek's V2, V3, R1 and V3.1
// and templates written to exercise the language — and single expressions,
// byte for byte, failures included.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "fathom/core/error.h"
#include "fathom/tokenizer/chat_template.h"
#include "fathom/tokenizer/jinja_template.h"
#include "test_support.h"

namespace fathom::tokenizer {
namespace {

using testing::read_jsonl;

const std::filesystem::path kData = std::filesystem::path(FATHOM_SOURCE_DIR) / "tests/tokenizer/data";

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Lines of a .jsonl file parsed with member order kept (dicts print in order).
std::vector<nlohmann::ordered_json> read_ordered_jsonl(const std::filesystem::path& path) {
  std::vector<nlohmann::ordered_json> lines;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) lines.push_back(nlohmann::ordered_json::parse(line));
  }
  return lines;
}

jinja::Dict variables_of(const nlohmann::ordered_json& object) { return jinja::Value::from_json(object).as_dict(); }

jinja::Dict deepseek_special_tokens() {
  return {{"bos_token", jinja::Value("<｜begin▁of▁sentence｜>")},
          {"eos_token", jinja::Value("<｜end▁of▁sentence｜>")},
          {"pad_token", jinja::Value("<｜end▁of▁sentence｜>")}};
}

TEST(Jinja, ExpressionsRenderAsTransformersDoes) {
  const auto cases = read_ordered_jsonl(kData / "jinja_expression_cases.jsonl");
  ASSERT_EQ(cases.size(), 78u);
  std::size_t matched = 0;
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const std::string source = cases[i]["template"].get<std::string>();
    const std::string label = "jinja_expression_cases.jsonl line " + std::to_string(i + 1) + ": " + source;
    const jinja::Dict variables = variables_of(cases[i]["variables"]);
    if (cases[i].contains("error")) {
      try {
        const std::string rendered = jinja::Template::parse(source, "case").render(variables);
        ADD_FAILURE() << label << "\n  rendered '" << rendered << "' where transformers failed with "
                      << cases[i]["error"].get<std::string>();
      } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::invalid_argument) << label << ": " << e.what();
        ++matched;
      }
      continue;
    }
    try {
      const std::string rendered = jinja::Template::parse(source, "case").render(variables);
      EXPECT_EQ(rendered, cases[i]["rendered"].get<std::string>()) << label;
      matched += rendered == cases[i]["rendered"].get<std::string>();
    } catch (const Error& e) {
      ADD_FAILURE() << label << "\n  failed: " << e.what();
    }
  }
  std::printf("[ renders  ] %zu/%zu expressions as transformers\n", matched, cases.size());
}

TEST(Jinja, ChatTemplatesRenderAsTransformersDoes) {
  const auto cases = read_ordered_jsonl(kData / "jinja_chat_cases.jsonl");
  ASSERT_EQ(cases.size(), 400u);
  std::map<std::string, std::pair<int, int>> per_template;  // matched, total
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const auto& c = cases[i];
    const std::string name = c["template"].get<std::string>();
    const std::string label = "jinja_chat_cases.jsonl line " + std::to_string(i + 1) + " (" + name + ")";
    const ChatTemplate chat = ChatTemplate::from_source(read_file(kData / "templates" / name), deepseek_special_tokens(), name);
    const auto messages = chat_messages_from_json(nlohmann::json::parse(c["messages"].dump()), label);
    jinja::Dict extra;
    if (c.contains("tools")) extra.emplace_back("tools", jinja::Value::from_json(c["tools"]));
    if (c.contains("kwargs")) {
      for (const auto& [key, value] : variables_of(c["kwargs"])) extra.emplace_back(key, value);
    }
    auto& [matched, total] = per_template[name];
    ++total;
    if (c.contains("error")) {
      try {
        chat.render(messages, c["add_generation_prompt"].get<bool>(), extra);
        ADD_FAILURE() << label << ": rendered where transformers failed with " << c["error"].get<std::string>();
      } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::invalid_argument) << label << ": " << e.what();
        ++matched;
      }
      continue;
    }
    try {
      const std::string rendered = chat.render(messages, c["add_generation_prompt"].get<bool>(), extra);
      EXPECT_EQ(rendered, c["rendered"].get<std::string>()) << label;
      matched += rendered == c["rendered"].get<std::string>();
    } catch (const Error& e) {
      ADD_FAILURE() << label << ": " << e.what();
    }
  }
  for (const auto& [name, counts] : per_template) {
    std::printf("[ renders  ] %-24s %d/%d as transformers\n", name.c_str(), counts.first, counts.second);
  }
}

// Errors name the template, line and column, and say what went wrong.
void expect_error(std::string_view source, const jinja::Dict& variables, ErrorCode code, const std::string& fragment) {
  try {
    const std::string rendered = jinja::Template::parse(source, "tpl.jinja").render(variables);
    ADD_FAILURE() << "'" << source << "' rendered '" << rendered << "'";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), code) << e.what();
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

TEST(Jinja, SyntaxErrorsNameLineAndColumn) {
  expect_error("text\n{% if x %}", {}, ErrorCode::invalid_argument, "tpl.jinja:2:");
  expect_error("{% if x %}never closed", {}, ErrorCode::invalid_argument, "expected '{% elif %}'");
  expect_error("ok\n  {{ 1 + }}", {}, ErrorCode::invalid_argument, "tpl.jinja:2:10: unexpected '}}' in an expression");
  expect_error("{{ (1 ] }}", {}, ErrorCode::invalid_argument, "tpl.jinja:1:7: unexpected ']', expected ')'");
  expect_error("{{ 'open", {}, ErrorCode::invalid_argument, "string literal is never closed");
  expect_error("{{ x", {}, ErrorCode::invalid_argument, "tpl.jinja:1:1: tag is never closed");
  expect_error("{# x", {}, ErrorCode::invalid_argument, "comment is never closed");
  expect_error("{{ x $ y }}", {}, ErrorCode::invalid_argument, "unexpected character '$'");
  expect_error("{% break %}", {}, ErrorCode::invalid_argument, "'break' outside a for loop");
  expect_error("{% frobnicate %}", {}, ErrorCode::invalid_argument, "unknown statement 'frobnicate'");
}

TEST(Jinja, WhatFathomDoesNotRunIsRefusedAtParse) {
  expect_error("{% macro m() %}x{% endmacro %}", {}, ErrorCode::unsupported, "tpl.jinja:1:4: the 'macro' statement is not supported");
  expect_error("\n\n  {{ x | frobnicate }}", {}, ErrorCode::unsupported, "tpl.jinja:3:10: filter 'frobnicate' is not supported");
  expect_error("{{ x is frobnicated }}", {}, ErrorCode::unsupported, "test 'frobnicated' is not supported");
  expect_error("{% include 'other.jinja' %}", {}, ErrorCode::unsupported, "'include' statement is not supported");
  expect_error("{{ 1 < 2 < 3 }}", {}, ErrorCode::unsupported, "chained comparisons");
  expect_error("{% for x in y recursive %}{% endfor %}", {}, ErrorCode::unsupported, "recursive for loops");
  expect_error("{{ 99999999999999999999 }}", {}, ErrorCode::unsupported, "does not fit in 64 bits");
}

TEST(Jinja, RenderErrorsNameWhereAndWhy) {
  expect_error("line one\n{{ messages[0].content + 1 }}", variables_of(nlohmann::ordered_json::parse(R"({"messages": [{"content": "x"}]})")),
               ErrorCode::invalid_argument, "tpl.jinja:2:");
  expect_error("{{ x.y }}", {}, ErrorCode::invalid_argument, "tpl.jinja:1:5: 'x' is undefined");
  expect_error("{{ raise_exception('no tools here') }}", {}, ErrorCode::invalid_argument,
               "the template refused the conversation: no tools here");
  expect_error("{{ 'a'.frobnicate() }}", {}, ErrorCode::invalid_argument, "'str' object has no method 'frobnicate'");
  expect_error("{{ nothing() }}", {}, ErrorCode::invalid_argument, "'nothing' is undefined");
}

TEST(Jinja, RunawayTemplatesStop) {
  // A step budget ends nested loops that would run for hours.
  expect_error("{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}", {},
               ErrorCode::resource_exhausted, "steps; stopped");
  expect_error("{{ range(100001) | length }}", {}, ErrorCode::invalid_argument, "range too big");
  // Deep nesting is refused instead of exhausting the stack.
  std::string nested = "{{ " + std::string(300, '(') + "1" + std::string(300, ')') + " }}";
  expect_error(nested, {}, ErrorCode::invalid_argument, "nested too deeply");
  expect_error("{{ " + std::string(300, '-') + "1 }}", {}, ErrorCode::invalid_argument, "nested too deeply");
  std::string blocks;
  for (int i = 0; i < 300; ++i) blocks += "{% if true %}";
  expect_error(blocks, {}, ErrorCode::invalid_argument, "nested too deeply");
  expect_error("{{ " + [] {
    std::string s;
    for (int i = 0; i < 300; ++i) s += "not ";
    return s;
  }() + "x }}", {}, ErrorCode::invalid_argument, "nested too deeply");
}

TEST(Jinja, ValuesCannotNestWithoutBoundOrCycle) {
  // Nesting is bounded (printing and freeing recurse through a value) ...
  expect_error("{% set ns = namespace(x=1) %}{% for i in range(5000) %}{% set ns.x = [ns.x] %}{% endfor %}{{ ns.x }}",
               {}, ErrorCode::invalid_argument, "deeper than 512 levels");
  nlohmann::json deep = 1;
  for (int i = 0; i < 600; ++i) deep = nlohmann::json::array({deep});
  EXPECT_THROW(jinja::Value::from_json(deep), Error);
  // ... and a namespace never holds one, so it cannot hold itself.
  expect_error("{% set ns = namespace(a=1) %}{% set ns.me = [ns] %}{{ ns }}", {}, ErrorCode::invalid_argument,
               "cannot hold a namespace");
  EXPECT_EQ(jinja::Template::parse("{% set a = namespace(x=1) %}{% set b = namespace(inner=a) %}{{ b.inner.x }}", "t")
                .render({}),
            "1");
}

TEST(Jinja, KnowsWhichVariablesATemplateReads) {
  const auto t = jinja::Template::parse("{% for m in messages %}{% if tools %}{{ m | tojson }}{% endif %}{% endfor %}", "t");
  EXPECT_TRUE(t.reads_variable("messages"));
  EXPECT_TRUE(t.reads_variable("tools"));
  EXPECT_FALSE(t.reads_variable("thinking"));
  EXPECT_FALSE(t.reads_variable("m.x"));
  const auto v3 = jinja::Template::parse(read_file(kData / "templates/deepseek-v3.jinja"), "v3");
  EXPECT_FALSE(v3.reads_variable("tools"));
  const auto v31 = jinja::Template::parse(read_file(kData / "templates/deepseek-v3.1.jinja"), "v3.1");
  EXPECT_TRUE(v31.reads_variable("thinking"));
}

TEST(Jinja, PythonFloatRepr) {
  // Python's repr: positional from 1e-4 to 1e16, shortest round-trip digits.
  EXPECT_EQ(jinja::python_float_repr(0.1), "0.1");
  EXPECT_EQ(jinja::python_float_repr(100.0), "100.0");
  EXPECT_EQ(jinja::python_float_repr(1e16), "1e+16");
  EXPECT_EQ(jinja::python_float_repr(9999999999999998.0), "9999999999999998.0");
  EXPECT_EQ(jinja::python_float_repr(0.0001), "0.0001");
  EXPECT_EQ(jinja::python_float_repr(0.00001), "1e-05");
  EXPECT_EQ(jinja::python_float_repr(-2.5e-300), "-2.5e-300");
  EXPECT_EQ(jinja::python_float_repr(-0.0), "-0.0");
  EXPECT_EQ(jinja::python_float_repr(123456789.125), "123456789.125");
}

}  // namespace
}  // namespace fathom::tokenizer
