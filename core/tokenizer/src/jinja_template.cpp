// The interpreter: walks the parsed template with Jinja2's scoping (a for
// loop's body gets a fresh scope each iteration, so `set` inside a loop does
// not outlive the iteration; `if` does not open a scope; namespaces carry
// state out) and Python's value semantics (jinja_operators, jinja_builtins).
#include "fathom/tokenizer/jinja_template.h"

#include <functional>

#include "fathom/core/error.h"
#include "jinja_ast.h"
#include "jinja_builtins.h"
#include "jinja_parser.h"

namespace fathom::tokenizer::jinja {

namespace {

// Expressions evaluated plus statements run. Real chat templates take
// thousands per conversation; the budget only stops a template that loops
// without end over nested ranges.
constexpr std::uint64_t kStepBudget = 2'000'000;

using Scope = Dict;  // a scope's names and values

class Interpreter {
 public:
  Interpreter(const std::string& where, const Dict& variables) : where_(where) { scopes_.push_back(variables); }

  std::string run(const Body& body) {
    std::string out;
    outputs_.push_back(&out);
    exec(body);
    outputs_.pop_back();
    return out;
  }

 private:
  enum class Flow { normal, break_loop, continue_loop };

  std::string at(int line, int column) const {
    return where_ + ":" + std::to_string(line) + ":" + std::to_string(column);
  }

  void step(std::uint64_t count = 1) {
    steps_ += count;
    if (steps_ > kStepBudget) {
      throw resource_exhausted(where_ + ": the template ran more than " + std::to_string(kStepBudget) +
                               " steps; stopped");
    }
  }

  Value lookup(const std::string& name) const {
    for (auto scope = scopes_.rbegin(); scope != scopes_.rend(); ++scope) {
      if (const Value* found = find_member(*scope, name)) return *found;
    }
    return Value::undefined(name);
  }

  void assign(const std::string& name, Value value) { set_member(scopes_.back(), name, std::move(value)); }

  Flow exec(const Body& body) {
    for (const Node& node : body) {
      if (const Flow flow = exec(node); flow != Flow::normal) return flow;
    }
    return Flow::normal;
  }

  Flow exec(const Node& node) {
    step();
    switch (node.kind) {
      case Node::Kind::text: *outputs_.back() += node.text; return Flow::normal;
      case Node::Kind::output: *outputs_.back() += eval(*node.expr).str(); return Flow::normal;
      case Node::Kind::if_chain:
        for (const auto& [condition, body] : node.branches) {
          if (eval(*condition).truthy()) return exec(body);
        }
        return exec(node.otherwise);
      case Node::Kind::for_loop: return exec_for(node);
      case Node::Kind::set: exec_set(node); return Flow::normal;
      case Node::Kind::set_block: {
        std::string captured;
        outputs_.push_back(&captured);
        exec(node.body);
        outputs_.pop_back();
        assign(node.targets[0], Value(std::move(captured)));
        return Flow::normal;
      }
      case Node::Kind::break_loop: return Flow::break_loop;
      case Node::Kind::continue_loop: return Flow::continue_loop;
    }
    return Flow::normal;
  }

  void exec_set(const Node& node) {
    Value value = eval(*node.expr);
    if (node.attribute.empty()) {
      assign(node.targets[0], std::move(value));
      return;
    }
    const Value target = lookup(node.targets[0]);
    if (target.kind() != Value::Kind::name_space) {
      throw invalid_argument(at(node.line, node.column) + ": cannot assign attribute on non-namespace object '" +
                             node.targets[0] + "' (" + std::string(target.type_name()) + ")");
    }
    // A namespace inside a namespace could come to hold itself: a cycle that printing would
    // follow for ever and that would never be freed.
    if (value.holds_namespace()) {
      throw invalid_argument(at(node.line, node.column) + ": a namespace attribute cannot hold a namespace");
    }
    set_member(target.as_namespace().attributes, node.attribute, std::move(value));
  }

  void bind_targets(const Node& node, const Value& item) {
    if (node.targets.size() == 1) {
      assign(node.targets[0], item);
      return;
    }
    std::vector<Value> parts;
    try {
      parts = iterate(item);
    } catch (const TemplateError& e) {
      throw invalid_argument(at(node.line, node.column) + ": cannot unpack: " + e.what());
    }
    if (parts.size() != node.targets.size()) {
      throw invalid_argument(at(node.line, node.column) + ": cannot unpack " + std::to_string(parts.size()) +
                             " values into " + std::to_string(node.targets.size()) + " names");
    }
    for (std::size_t i = 0; i < parts.size(); ++i) assign(node.targets[i], parts[i]);
  }

  Flow exec_for(const Node& node) {
    const Value iterable = eval(*node.expr);
    std::vector<Value> items;
    try {
      items = iterate(iterable);
    } catch (const TemplateError& e) {
      throw invalid_argument(at(node.expr->line, node.expr->column) + ": " + e.what());
    }
    step(items.size());  // each item costs a step, even under an empty body
    if (node.filter) {
      // "for x in xs if cond": the condition sees each item, and loop.index
      // counts only the items kept.
      std::vector<Value> kept;
      for (const Value& item : items) {
        scopes_.emplace_back();
        bind_targets(node, item);
        const bool keep = eval(*node.filter).truthy();
        scopes_.pop_back();
        if (keep) kept.push_back(item);
      }
      items = std::move(kept);
    }
    if (items.empty()) return exec(node.otherwise);
    const auto count = static_cast<std::int64_t>(items.size());
    for (std::int64_t i = 0; i < count; ++i) {
      scopes_.emplace_back();
      bind_targets(node, items[static_cast<std::size_t>(i)]);
      assign("loop", Value(Dict{
                         {"index", Value(i + 1)},
                         {"index0", Value(i)},
                         {"revindex", Value(count - i)},
                         {"revindex0", Value(count - i - 1)},
                         {"first", Value(i == 0)},
                         {"last", Value(i == count - 1)},
                         {"length", Value(count)},
                         {"depth", Value(std::int64_t{1})},
                         {"depth0", Value(std::int64_t{0})},
                         {"previtem", i > 0 ? items[static_cast<std::size_t>(i - 1)] : Value::undefined("loop.previtem")},
                         {"nextitem", i + 1 < count ? items[static_cast<std::size_t>(i + 1)] : Value::undefined("loop.nextitem")},
                     }));
      const Flow flow = exec(node.body);
      scopes_.pop_back();
      if (flow == Flow::break_loop) break;
    }
    return Flow::normal;
  }

  // ---- expressions ----------------------------------------------------------

  Value eval(const Expr& e) {
    step();
    try {
      return eval_here(e);
    } catch (const RaisedByTemplate& raised) {
      throw invalid_argument(at(e.line, e.column) + ": the template refused the conversation: " + raised.what());
    } catch (const TemplateError& error) {
      throw invalid_argument(at(e.line, e.column) + ": " + error.what());
    }
  }

  Arguments eval_arguments(const Expr& e, std::size_t first_positional) {
    Arguments args;
    for (std::size_t i = first_positional; i < e.operands.size(); ++i) args.positional.push_back(eval(*e.operands[i]));
    for (const auto& [name, value] : e.keywords) args.keywords.emplace_back(name, eval(*value));
    return args;
  }

  Value eval_here(const Expr& e) {
    switch (e.kind) {
      case Expr::Kind::literal: return e.value;
      case Expr::Kind::name: return lookup(e.name);
      case Expr::Kind::list: {
        List items;
        for (const ExprPtr& item : e.operands) items.push_back(eval(*item));
        return Value(std::move(items));
      }
      case Expr::Kind::dict: {
        Dict members;
        for (std::size_t i = 0; i + 1 < e.operands.size(); i += 2) {
          const Value key = eval(*e.operands[i]);
          if (!key.is_string()) throw TemplateError("dict keys must be strings here, not " + std::string(key.type_name()));
          set_member(members, key.as_string(), eval(*e.operands[i + 1]));
        }
        return Value(std::move(members));
      }
      case Expr::Kind::attribute: {
        const Value object = eval(*e.operands[0]);
        require_defined(object);
        return object.member(e.name);
      }
      case Expr::Kind::subscript: return subscript(eval(*e.operands[0]), eval(*e.operands[1]));
      case Expr::Kind::slice: {
        const auto part = [&](std::size_t i) { return e.operands[i] ? eval(*e.operands[i]) : Value(None{}); };
        return slice(eval(*e.operands[0]), part(1), part(2), part(3));
      }
      case Expr::Kind::call: return eval_call(e);
      case Expr::Kind::filter: {
        const Value operand = eval(*e.operands[0]);
        return apply_filter(e.name, operand, eval_arguments(e, 1));
      }
      case Expr::Kind::test: {
        const Value operand = eval(*e.operands[0]);
        return Value(apply_test(e.name, operand, eval_arguments(e, 1)) != e.negated);
      }
      case Expr::Kind::unary: {
        const Value operand = eval(*e.operands[0]);
        if (e.name == "not") return Value(!operand.truthy());
        require_defined(operand);
        if (!operand.is_number()) {
          throw TemplateError("bad operand type for unary " + e.name + ": '" + std::string(operand.type_name()) + "'");
        }
        if (e.name == "+") return operand.kind() == Value::Kind::boolean ? Value(std::int64_t{operand.as_bool()}) : operand;
        if (operand.kind() == Value::Kind::floating) return Value(-operand.as_double());
        return arithmetic("-", Value(std::int64_t{0}), operand);
      }
      case Expr::Kind::binary: return eval_binary(e);
      case Expr::Kind::conditional:
        if (eval(*e.operands[1]).truthy()) return eval(*e.operands[0]);
        return e.operands[2] ? eval(*e.operands[2]) : Value::undefined("the else branch");
    }
    return Value::undefined("");
  }

  Value eval_binary(const Expr& e) {
    const Value left = eval(*e.operands[0]);
    // and/or return an operand, as in Python, and stop early.
    if (e.name == "and") return left.truthy() ? eval(*e.operands[1]) : left;
    if (e.name == "or") return left.truthy() ? left : eval(*e.operands[1]);
    const Value right = eval(*e.operands[1]);
    if (e.name == "in") return Value(contains(right, left));
    if (e.name == "not in") return Value(!contains(right, left));
    if (e.name == "==" || e.name == "!=" || e.name == "<" || e.name == "<=" || e.name == ">" || e.name == ">=") {
      return Value(compare(e.name, left, right));
    }
    return arithmetic(e.name, left, right);
  }

  Value eval_call(const Expr& e) {
    const Expr& callee = *e.operands[0];
    if (callee.kind == Expr::Kind::attribute) {
      const Value object = eval(*callee.operands[0]);
      require_defined(object);
      const Arguments args = eval_arguments(e, 1);
      if (std::optional<Value> result = call_method(object, callee.name, args)) return *std::move(result);
      throw TemplateError("'" + std::string(object.type_name()) + "' object has no method '" + callee.name +
                          "' that Fathom supports");
    }
    if (callee.kind == Expr::Kind::name) {
      const Value bound = lookup(callee.name);
      if (bound.is_undefined()) {
        if (std::optional<Value> result = call_global(callee.name, eval_arguments(e, 1))) {
          if (result->is_list()) step(result->as_list().size());  // range() builds its items
          return *std::move(result);
        }
        throw TemplateError("'" + callee.name + "' is undefined");
      }
      throw TemplateError("'" + callee.name + "' (" + std::string(bound.type_name()) + ") is not callable");
    }
    throw TemplateError("this expression is not callable");
  }

  const std::string& where_;
  std::vector<Scope> scopes_;
  std::vector<std::string*> outputs_;
  std::uint64_t steps_ = 0;
};

bool expr_reads(const Expr& e, std::string_view name) {
  if (e.kind == Expr::Kind::name && e.name == name) return true;
  for (const ExprPtr& operand : e.operands) {
    if (operand && expr_reads(*operand, name)) return true;
  }
  for (const auto& [keyword, value] : e.keywords) {
    if (expr_reads(*value, name)) return true;
  }
  return false;
}

bool body_reads(const Body& body, std::string_view name) {
  for (const Node& node : body) {
    if ((node.expr && expr_reads(*node.expr, name)) || (node.filter && expr_reads(*node.filter, name))) return true;
    for (const auto& [condition, branch] : node.branches) {
      if (expr_reads(*condition, name) || body_reads(branch, name)) return true;
    }
    if (body_reads(node.body, name) || body_reads(node.otherwise, name)) return true;
  }
  return false;
}

}  // namespace

Template Template::parse(std::string_view source, std::string where) {
  auto body = std::make_shared<const Body>(jinja::parse(source, where));
  return Template(std::move(body), std::move(where));
}

std::string Template::render(const Dict& variables) const { return Interpreter(where_, variables).run(*body_); }

bool Template::reads_variable(std::string_view name) const { return body_reads(*body_, name); }

}  // namespace fathom::tokenizer::jinja
