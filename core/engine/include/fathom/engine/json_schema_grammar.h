// Structured output: a JSON schema compiled to a Grammar whose sentences are JSON texts the
// schema accepts (OpenAI's response_format {"type": "json_schema"}).
//
// Every text the grammar accepts validates against the schema; the grammar is narrower than the
// schema where that keeps generation simple and finite, as OpenAI's strict mode and vLLM's
// grammars are:
//  - object members come in the order `properties` lists them, required ones always, optional
//    ones may be left out; members not in `properties` are not generated (even where
//    `additionalProperties` would allow them), except for an object with no `properties`,
//    whose members are any keys with values of the `additionalProperties` schema;
//  - whitespace, numbers and strings obey JSON mode's limits (json_prefix.h); nesting is bounded
//    by the automaton's stacks (grammar_automaton.h) rather than JSON mode's depth;
//  - a schema without `type` generates the types its keywords are about (`properties`: an
//    object), or any JSON value when it has none.
//
// Supported keywords: type (a name or a list), enum, const, anyOf, oneOf (where no value can match
// two branches: they differ in type, in enum/const values, or in a required member's enum/const
// value), allOf (of one schema), $ref (to "#" or a JSON pointer under it, recursion included),
// properties, required, additionalProperties, items, prefixItems, minItems, maxItems, minLength,
// maxLength (counts up to 1024), minimum, maximum, exclusiveMinimum, exclusiveMaximum (on integers:
// exact ranges of digits; on numbers: bounds that are decimals of at most 15 digits, and
// generated decimals of at most 15 digits, which a double keeps within them), multipleOf (a whole
// number up to 1000, its multiples generated as integers, for numbers too), pattern, and format
// for date, time, date-time, uuid, ipv4, email (json_string_pattern.h). Annotations are ignored: title, description, default, examples,
// deprecated, readOnly, writeOnly, $schema, $id, $comment, $defs, definitions, discriminator, and
// other formats (annotations in JSON Schema 2020-12 unless a validator opts in). Any other keyword
// (not, if, uniqueItems, ...) is refused with `unsupported`, naming where it is: a grammar that
// ignored it would produce output the schema rejects.
#pragma once

#include <memory>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "fathom/engine/grammar.h"

namespace fathom::engine {

// Throws invalid_argument (malformed schema) or unsupported (a keyword Fathom does not
// generate for), each naming the place as a JSON pointer ("#/properties/age").
std::shared_ptr<const Grammar> json_schema_grammar(const nlohmann::ordered_json& schema);
// The schema as JSON text: member order is kept (it orders the generated members).
std::shared_ptr<const Grammar> json_schema_grammar(std::string_view schema_text);

}  // namespace fathom::engine
