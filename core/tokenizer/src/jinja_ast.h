// The parsed form of a Jinja template: expressions and statements, each with
// the line and column it came from so that a failure at render time can say
// where in the template it happened.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "fathom/tokenizer/jinja_value.h"

namespace fathom::tokenizer::jinja {

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Expr {
  enum class Kind {
    literal,      // value
    name,         // name
    list,         // operands: the items
    dict,         // operands: key, value, key, value, ...
    attribute,    // operands[0].name
    subscript,    // operands[0][operands[1]]
    slice,        // operands[0][operands[1]:operands[2]:operands[3]] (null operands are absent)
    call,         // operands[0](operands[1..], keywords)
    filter,       // operands[0] | name(operands[1..], keywords)
    test,         // operands[0] is [not] name(operands[1..])
    unary,        // name ("not", "-", "+") operands[0]
    binary,       // operands[0] name operands[1]; name is the operator ("and", "in", "not in", "~", ...)
    conditional,  // operands[0] if operands[1] else operands[2] (null: undefined)
  };
  Kind kind;
  int line = 0;
  int column = 0;
  Value value;
  std::string name;
  bool negated = false;  // "is not"
  std::vector<ExprPtr> operands;
  std::vector<std::pair<std::string, ExprPtr>> keywords;
};

struct Node;
using Body = std::vector<Node>;

struct Node {
  enum class Kind {
    text,          // text
    output,        // {{ expr }}
    if_chain,      // branches (condition, body), then otherwise
    for_loop,      // for targets in expr [if filter]: body, else otherwise
    set,           // set targets[0][.attribute] = expr
    set_block,     // set targets[0]: body captured as text
    break_loop,
    continue_loop,
  };
  Kind kind;
  int line = 0;
  int column = 0;
  std::string text;
  ExprPtr expr;
  ExprPtr filter;
  std::vector<std::string> targets;
  std::string attribute;  // set ns.attribute = ...
  std::vector<std::pair<ExprPtr, Body>> branches;
  Body body;
  Body otherwise;
};

}  // namespace fathom::tokenizer::jinja
