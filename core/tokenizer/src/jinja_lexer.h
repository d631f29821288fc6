// Splits a Jinja template into text and the tokens of its tags, with the
// whitespace rules Hugging Face renders chat templates under: trim_blocks (the
// newline after a block tag goes), lstrip_blocks (the indentation before one
// goes), "-" signs that strip all whitespace beside a tag, newlines normalised
// to "\n" and one trailing newline dropped. Comments are dropped here.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace fathom::tokenizer::jinja {

struct Token {
  enum class Kind {
    text,            // template text to print as is
    variable_begin,  // {{
    variable_end,    // }}
    block_begin,     // {%
    block_end,       // %}
    name,
    string,   // a string literal, escapes already decoded
    integer,  // digits (underscores removed)
    floating,
    op,   // an operator or bracket: + - * / // % ** ~ == != < <= > >= = . : | , ( ) [ ] { }
    end,  // after the last token
  };
  Kind kind;
  std::string text;
  int line;
  int column;
};

// `where` names the template in errors ("tokenizer_config.json: chat_template").
// Throws invalid_argument naming line and column for a tag left open, a
// character that is not part of the expression language, or unbalanced brackets.
std::vector<Token> lex(std::string_view source, const std::string& where);

// "where:line:column" for messages about a token.
std::string location(const std::string& where, const Token& token);

}  // namespace fathom::tokenizer::jinja
