// JSON Schema's `pattern` (and the `format`s Fathom generates) for structured output: the JSON
// string contents whose decoded text a regular expression matches, as grammar rules.
//
// The regular expressions are ECMA-262's, the subset that is a regular language and reads the
// same in Python's `re` (which the jsonschema package checks with): literals, `.`, classes
// (`[a-z]`, `[^"]`, ASCII members), `\d \w \s` and their negations, groups `( )` and `(?: )`,
// `|`, the quantifiers `* + ? {n} {n,} {n,m}` (counts up to 1000; lazy forms read the same),
// and `^`/`$` at the ends of a top-level alternative. Without `^` (or `$`) anything may come
// before (or after) the match: JSON Schema searches, it does not anchor. Refused, naming the
// place: backreferences, lookaround, `\b`, anchors elsewhere, non-ASCII in a class.
//
// What is generated is a subset of what matches, so that every generated string matches under
// both dialects: characters are written raw where JSON allows (escaped only where it must:
// `\"`, `\\`, control characters); the negated shorthands (`\D \W \S`) and classes holding them
// produce ASCII only (Python counts more of Unicode as digits, word characters and spaces);
// `.` produces neither line breaks nor U+2028/U+2029.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "fathom/engine/grammar.h"

namespace fathom::engine {

// A rule for the contents of a JSON string (between its quotes) matching `pattern`. `any_char`
// is a rule reading one JSON string character in any encoding (what may surround an unanchored
// match). `where` names the place in the schema for errors (unsupported for what the subset
// leaves out, invalid_argument for a malformed expression).
uint32_t pattern_string_contents(GrammarBuilder& g, std::string_view pattern, uint32_t any_char, const std::string& where);

// A rule for text that `pattern` matches whole (Python's re.fullmatch, with the subset and the
// generation limits above), its characters as themselves (UTF-8): structured output by regular
// expression. `field` names the request field for errors.
uint32_t pattern_text(GrammarBuilder& g, std::string_view pattern, const std::string& field);

// The pattern Fathom generates a `format` with ("date", "time", "date-time", "uuid", "ipv4",
// "email"), or empty for a format it treats as an annotation.
std::string_view format_pattern(std::string_view format);

}  // namespace fathom::engine
