#!/usr/bin/env python3
"""Writes tests/fixtures/json-schema/cases.json: JSON schemas with texts, each judged by the
`jsonschema` package (Draft 2020-12), the oracle of Fathom's structured-output tests.

A text that is not JSON at all is invalid. A text marked "generated" is one Fathom's grammar for the schema must accept: members in the
schema's order, no members the schema does not list, within JSON mode's limits. The tests check
that every text the grammar accepts is one jsonschema calls valid, and that every "generated"
text is accepted. The marks are ours; the verdicts are jsonschema's (a "generated" text it calls
invalid stops this script).

    .venv/bin/python tools/reference/make_json_schema_cases.py   # jsonschema==4.26.0 (tests/requirements.txt)
"""
import json
import pathlib

import jsonschema

PERSON = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "minLength": 1},
        "age": {"type": "integer"},
        "email": {"type": ["string", "null"]},
        "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 3},
    },
    "required": ["name", "age"],
    "additionalProperties": False,
}

TREE = {
    "$defs": {
        "node": {
            "type": "object",
            "properties": {
                "value": {"type": "number"},
                "children": {"type": "array", "items": {"$ref": "#/$defs/node"}},
            },
            "required": ["value", "children"],
            "additionalProperties": False,
        }
    },
    "$ref": "#/$defs/node",
}

# (name, schema, generated texts, other texts)
CASES = [
    ("min-max-properties",
     {"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "string"}, "c": {"type": "boolean"}},
      "required": ["a"], "minProperties": 2, "maxProperties": 2, "additionalProperties": False},
     ['{"a":1,"b":"x"}', '{"a":1,"c":true}', '{ "a" : -3 , "c" : false }'],
     ['{"a":1}', '{"a":1,"b":"x","c":true}', '{"b":"x","c":true}', '{"c":true,"a":1}', '{}']),
    ("min-properties-optional",
     {"properties": {"x": {"type": "integer"}, "y": {"type": "integer"}}, "minProperties": 1},
     ['{"x":1}', '{"y":2}', '{"x":1,"y":2}'],
     ['{}', '{"y":1,"x":2}', '{"x":"1"}']),
    ("max-properties-map",
     {"type": "object", "additionalProperties": {"type": "integer"}, "minProperties": 1, "maxProperties": 2},
     ['{"a":1}', '{"a":1,"b":2}', '{"":0}'],
     ['{}', '{"a":1,"b":2,"c":3}', '{"a":"x"}']),
    ("property-names-enum",
     {"type": "object", "additionalProperties": {"type": "number"}, "propertyNames": {"enum": ["x", "y"]}},
     ['{}', '{"x":1}', '{"x":1,"y":2.5}', '{"y":-1}'],
     ['{"z":1}', '{"X":1}', '{"x":"1"}']),
    ("property-names-pattern",
     {"type": "object", "propertyNames": {"pattern": "^[a-z]{1,3}$"}, "additionalProperties": {"type": "boolean"}},
     ['{"ab":true}', '{"abc":false,"a":true}', '{}'],
     ['{"abcd":true}', '{"A":true}', '{"":true}', '{"a":1}']),
    ("property-names-drop-a-property",
     {"type": "object", "properties": {"ok": {"type": "integer"}, "BAD": {"type": "integer"}},
      "propertyNames": {"pattern": "^[a-z]+$"}},
     ['{"ok":1}', '{}'],
     ['{"BAD":1}', '{"ok":1,"BAD":2}']),
    ("pattern-properties",
     {"type": "object", "patternProperties": {"^x-[a-z]+$": {"type": "integer", "minimum": 0}},
      "additionalProperties": False, "maxProperties": 2},
     ['{}', '{"x-a":1}', '{"x-ab":0,"x-b":7}'],
     ['{"y":1}', '{"x-a":-1}', '{"x-a":1,"x-b":2,"x-c":3}', '{"x-A":1}']),
    ("pattern-properties-beside-properties",
     {"type": "object", "properties": {"id": {"type": "string"}}, "patternProperties": {"^n_": {"type": "number"}},
      "required": ["id"]},
     ['{"id":"a"}'],
     ['{}', '{"id":1}', '{"id":"a","n_1":"x"}']),
    ("unique-enum",
     {"type": "array", "items": {"enum": ["red", "green", "blue"]}, "uniqueItems": True, "minItems": 1},
     ['["red"]', '["red","blue"]', '["green","blue"]', '["red","green","blue"]', '[ "blue" ]'],
     ['[]', '["red","red"]', '["blue","red"]', '["red","green","blue","red"]', '["black"]']),
    ("unique-booleans",
     {"type": "array", "items": {"type": "boolean"}, "uniqueItems": True},
     ['[]', '[true]', '[false]', '[true,false]'],
     ['[true,true]', '[false,true]', '[true,false,true]', '[1]']),
    ("unique-ref-enum",
     {"$defs": {"Color": {"enum": ["r", "g"], "title": "Color", "type": "string"}},
      "type": "array", "items": {"$ref": "#/$defs/Color"}, "uniqueItems": True, "maxItems": 1},
     ['[]', '["r"]', '["g"]'],
     ['["r","g"]', '["r","r"]', '["b"]']),

    ("person", PERSON,
     ['{"name":"Ada","age":36}', '{"name": "Ada", "age": -1, "email": null, "tags": ["a","b"]}',
      '{"name":"Ada","age":36,"tags":[]}', '{\n  "name": "L\u00e9a",\n  "age": 0\n}',
      '{"name":"\\"q\\" \\u00e9","age":12345678901234567890,"email":"a@b.c"}'],
     ['{"age":36,"name":"Ada"}', '{"name":"","age":1}', '{"name":"A"}', '{"name":"A","age":1.5}',
      '{"name":"A","age":1,"extra":1}', '{"name":"A","age":1,"tags":["a","b","c","d"]}',
      '{"name":"A","age":1,"tags":[1]}', '{"name":"A","age":"1"}', '{"name":"A","age":1,"email":3}', '[]']),
    ("enum-const",
     {"type": "object", "properties": {"color": {"enum": ["red", "green", 1, None]}, "kind": {"const": "point"}},
      "required": ["color", "kind"]},
     ['{"color":"red","kind":"point"}', '{"color":1,"kind":"point"}', '{"color":null,"kind":"point"}'],
     ['{"color":"blue","kind":"point"}', '{"color":"red","kind":"line"}', '{"color":"red"}',
      '{"color":"red","kind":"point","x":1}', '{"color":"Red","kind":"point"}']),
    ("tree", TREE,
     ['{"value":1,"children":[]}',
      '{"value":-2.5e3,"children":[{"value":0,"children":[{"value":1.25,"children":[]}]},{"value":7,"children":[]}]}'],
     ['{"value":1}', '{"value":1,"children":[{"value":"x","children":[]}]}', '{"value":1,"children":[1]}',
      '{"children":[],"value":1}']),
    ("any-of",
     {"anyOf": [{"type": "integer"}, {"type": "array", "items": {"type": "boolean"}, "minItems": 2, "maxItems": 2}]},
     ['7', '-0', '[true,false]', '[ true , true ]'],
     ['[true]', '[true,false,true]', '"x"', '1.5', '[1,2]', '[]']),
    ("map", {"type": "object", "additionalProperties": {"type": "integer"}},
     ['{}', '{"a":1,"b":2}', '{"x y":-3}', '{ "a" : 1 , "a" : 2 }'],
     ['{"a":"1"}', '{"a":1.5}', '{"a":null}', '[]']),
    ("string-length", {"type": "string", "minLength": 2, "maxLength": 4},
     ['"ab"', '"abcd"', '"\u00e9\u00e9"', '"\\u00e9x"', '"\U0001F600\U0001F600"', '"\\ud83d\\ude00x"', '"a\\nb"'],
     ['"a"', '"abcde"', '""', '"\U0001F600"', '"\\ud83d\\ude00"', '"abc\u00e9x"']),
    ("any", {},
     ['1', '"x"', '[1,{"a":null}]', '{"a":[]}', 'true', 'null', ' {"b": [1.5e-3, "\\u20ac"]}'],
     []),
    ("true", True, ['false', '[]'], []),
    ("boolean-or-null", {"type": ["boolean", "null"]},
     ['true', 'false', 'null'],
     ['0', '"true"', '[]']),
    ("required-extra",
     {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["b"],
      "additionalProperties": {"type": "boolean"}},
     ['{"b":true}', '{"a":"x","b":false}'],
     ['{"a":"x"}', '{"b":1}', '{"a":1,"b":true}', '{"b":true,"a":"x"}']),
    ("number", {"type": "number"},
     ['0', '-0.5', '1e10', '12345678901234567890', '1.5E+2', '3.14159265358979323846264338327950288'],
     ['123456789012345678901', '"1"', 'true', '1e100', '1e-7']),
    ("optional-nullable",
     {"title": "M", "type": "object",
      "properties": {"a": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None, "title": "A"}}},
     ['{}', '{"a":null}', '{"a":"s"}', '{ }'],
     ['{"a":1}', '{"b":1}']),
    ("typed-enum", {"type": "integer", "enum": [1, "1", 2.0, 2.5]},
     ['1', '2.0'],
     ['"1"', '2.5', '2', '3']),
    ("closed-empty", {"type": "object", "additionalProperties": False},
     ['{}', '{ \n}'],
     ['{"a":1}', '[]']),
    ("array-count", {"type": "array", "items": {"type": "integer"}, "minItems": 1},
     ['[1]', '[1, 2, 3]', '[\n 1\n]'],
     ['[]', '[1.5]', '["1"]']),
]


# Integer bounds: every integer near the bounds and a spread between, plus the far ends. The
# "generated" mark is jsonschema's verdict on canonical integer texts (no leading zero, no "-0",
# at most 20 digits), which the grammar must accept exactly.
BOUNDED_INTEGERS = [
    ("int-minimum-0", {"type": "integer", "minimum": 0}),
    ("int-maximum-100", {"type": "integer", "maximum": 100}),
    ("int-between", {"type": "integer", "exclusiveMinimum": -5.5, "maximum": 1234}),
    ("int-narrow", {"type": "integer", "minimum": 7, "exclusiveMaximum": 9}),
    ("int-negative", {"type": "integer", "minimum": -1000, "maximum": -37}),
    ("int-float-bounds", {"type": "integer", "minimum": 2.5, "exclusiveMaximum": 1e3}),
    ("int-untyped", {"minimum": 10, "maximum": 99999}),
    ("int-wide", {"type": "integer", "minimum": -12345678901234567, "exclusiveMaximum": 18446744073709551615}),
    ("int-far", {"type": "integer", "minimum": -1e30, "maximum": 1e30}),
]


# Patterns and formats: judged with jsonschema's format checker on (rfc3339-validator lets it
# check time and date-time), so a format's texts must really be dates, times, uuids...
PATTERNS = [
    ("pattern-anchored", {"type": "string", "pattern": "^[A-Z]{3}-\\d{2,4}$"},
     ['"ABC-12"', '"XYZ-9999"'], ['"ABC-1"', '"abc-12"', '"ABC-12345"', '"xABC-12"', '"ABC-12 "']),
    ("pattern-search", {"type": "string", "pattern": "cat|dog"},
     ['"cat"', '"a dog!"', '"concatenate"', '"\\u00e9cat\\n"'], ['"c-a-t"', '""', '"Dog"']),
    ("pattern-escapes", {"type": "string", "pattern": r'^"[^"\\]*"\.?$'},
     [r'"\"hi\""', r'"\"\"."'], [r'"\"a\\b\""', r'"hi"']),
    ("pattern-groups", {"type": "string", "pattern": "^(?:ab|c(d|e)+)?x{2}$"},
     ['"xx"', '"abxx"', '"cdedxx"'], ['"x"', '"abcxx"', '"cxx"', '"xxx"']),
    ("pattern-dot", {"type": "string", "pattern": "^a.c$"},
     ['"abc"', '"a\u00e9c"', '"a\\"c"', '"a\\tc"'], ['"ac"', '"a\\nc"', '"abbc"']),
    ("pattern-not-digits", {"type": "string", "pattern": "^\\D+\\w\\s$"},
     ['"ab1 "', '"--_\\t"'], ['"1a "', '"ab1"']),
    ("format-date", {"type": "string", "format": "date"},
     ['"2026-11-30"', '"2024-02-28"', '"1999-04-30"', '"0001-12-31"'],
     ['"2026-02-30"', '"2026-04-31"', '"2026-13-01"', '"2026-1-01"', '"2024-02-29"', '"20261130"']),
    ("format-time", {"type": "string", "format": "time"},
     ['"23:59:59Z"', '"00:00:00.5+05:30"', '"12:30:00-08:00"'], ['"24:00:00Z"', '"12:30Z"', '"12:30:00"', '"23:59:60Z"']),
    ("format-date-time", {"type": "string", "format": "date-time"},
     ['"2026-11-30T07:56:00Z"', '"2026-01-31T23:59:59.123456+01:00"'], ['"2026-11-30 07:56:00Z"', '"2026-11-30T07:56Z"']),
    ("format-uuid", {"type": "string", "format": "uuid"},
     ['"123e4567-e89b-12d3-a456-426614174000"', '"AAAAAAAA-BBBB-CCCC-DDDD-EEEEEEEEEEEE"'],
     ['"123e4567e89b12d3a456426614174000"', '"123e4567-e89b-12d3-a456-42661417400"', '"g23e4567-e89b-12d3-a456-426614174000"']),
    ("format-ipv4", {"type": "string", "format": "ipv4"},
     ['"192.168.0.1"', '"255.255.255.255"', '"0.0.0.0"'], ['"256.1.1.1"', '"01.2.3.4"', '"1.2.3"', '"1.2.3.4.5"']),
    ("format-email", {"type": "string", "format": "email"},
     ['"ada@example.com"', '"a.b+c@mail.co.uk"'], ['"ada.example.com"', '"@example.com"']),
    ("one-of-types", {"oneOf": [{"type": "string"}, {"type": "integer"}, {"type": "null"}]},
     ['"x"', '5', 'null'], ['1.5', 'true', '[]']),
    ("one-of-discriminator",
     {"$defs": {"Cat": {"type": "object", "properties": {"kind": {"const": "cat"}, "lives": {"type": "integer"}},
                        "required": ["kind", "lives"]},
                "Dog": {"type": "object", "properties": {"kind": {"const": "dog"}, "good": {"type": "boolean"}},
                        "required": ["kind"]}},
      "oneOf": [{"$ref": "#/$defs/Cat"}, {"$ref": "#/$defs/Dog"}], "discriminator": {"propertyName": "kind"}},
     ['{"kind":"cat","lives":9}', '{"kind":"dog"}', '{"kind": "dog", "good": true}'],
     ['{"kind":"cow"}', '{"kind":"cat"}', '{"lives":9}', '{"kind":"dog","good":1}']),
    ("one-of-values", {"oneOf": [{"enum": ["a", "b"]}, {"const": "c"}]}, ['"a"', '"c"'], ['"d"', '1']),
    ("tuple", {"type": "array", "prefixItems": [{"type": "integer"}, {"type": "string"}], "minItems": 2,
               "maxItems": 2},
     ['[1,"a"]', '[ -5 , "" ]'], ['[1]', '["a",1]', '[1,"a",2]', '[]']),
    ("tuple-open", {"type": "array", "prefixItems": [{"const": "head"}], "items": {"type": "boolean"}},
     ['[]', '["head"]', '["head",true,false]'], ['[true]', '["head",1]', '["tail"]']),
    ("tuple-closed", {"type": "array", "prefixItems": [{"type": "null"}, {"type": "integer"}, {"type": "string"}],
                      "items": False, "minItems": 1},
     ['[null]', '[null,2]', '[null,2,"x"]'], ['[]', '[null,2,"x",3]', '[1]']),
    ("tuple-short", {"type": "array", "prefixItems": [{"type": "null"}, {"type": "integer"}, {"type": "string"}],
                     "maxItems": 1},
     ['[]', '[null]'], ['[null,2]', '[1]']),
    ("format-annotation", {"type": "string", "format": "uri"}, ['"not a uri"', '""'], []),
]


# Number bounds (whole and decimal): decimals near and between the bounds. The grammar generates decimals
# without an exponent, of at most 15 digits, not "-0": "generated" marks exactly the valid ones
# of that form (more digits could round onto a bound as a double).
BOUNDED_NUMBERS = [
    ("num-unit", {"type": "number", "minimum": 0, "maximum": 1}),
    ("num-positive", {"type": "number", "exclusiveMinimum": 0}),
    ("num-straddle", {"type": "number", "minimum": -2, "exclusiveMaximum": 3}),
    ("num-negative", {"type": "number", "exclusiveMinimum": -10, "exclusiveMaximum": -3}),
    ("num-point", {"type": "number", "minimum": 5, "maximum": 5.0}),
    ("num-untyped-list", {"type": ["number", "null"], "maximum": 100}),
    # Decimal bounds: the grammar compares the digits with the bound's as the schema wrote it.
    ("num-decimal", {"type": "number", "minimum": 0.5, "maximum": 2.75}),
    ("num-decimal-open", {"type": "number", "exclusiveMinimum": -0.25, "exclusiveMaximum": 0.125}),
    ("num-decimal-small", {"type": "number", "exclusiveMinimum": 0.001, "maximum": 0.01}),
    ("num-decimal-negative", {"type": "number", "minimum": -3.5, "exclusiveMaximum": -1.05}),
    ("num-decimal-wide", {"type": "number", "minimum": -2, "maximum": 99.9}),
    ("num-decimal-exponent", {"type": "number", "exclusiveMinimum": 1e-5, "maximum": 1.5e3}),
]

# multipleOf (a whole number): the multiples within the bounds, generated as canonical integers
# (for `number` too); "generated" marks the valid canonical integers among the integer texts.
MULTIPLES = [
    ("multiple-of-7", {"type": "integer", "multipleOf": 7, "minimum": -50, "maximum": 1000}),
    ("multiple-of-25", {"type": "integer", "multipleOf": 25}),
    ("multiple-number", {"type": "number", "multipleOf": 3, "minimum": -1.5, "exclusiveMaximum": 31.5}),
    ("multiple-untyped", {"multipleOf": 10, "exclusiveMinimum": 0, "maximum": 1000}),
    ("multiple-of-1", {"type": "integer", "multipleOf": 1.0, "minimum": 5, "maximum": 9}),
]
MULTIPLE_EXTRA_TEXTS = ["21.0", "3.5", "7.0000", "-0", "0.0", "1e3", "30.0", "1000.5", "null"]

NUMBER_TEXTS = [
    "0", "0.0", "0.5", "0.05", "0.000000000001", "1", "1.0", "1.000", "1.5", "1.0001", "-0.5", "-0", "-0.0", "2",
    "2.99999", "2.99999999999999", "2.9999999999999999", "3", "3.0", "-1.999", "-2", "-2.0", "-2.5", "-10", "-10.0",
    "-9.99", "-3.0", "-3", "-3.001", "-2.999", "1e0", "1E-2", "0.999999999999999", "0.9999999999999999999", "5",
    "5.00", "5.01", "4.99", "100", "100.0", "100.5", "99.99", "-1234567.25", "123456789012345", "1234567890123456",
    "00.5", ".5", "5.", "null",
    "0.49", "0.4999", "0.50", "0.5000001", "2.75", "2.750", "2.7500000000001", "2.76", "2.749", "-0.25", "-0.2500",
    "-0.24999", "-0.26", "0.125", "0.1249", "0.12500001", "0.12499999999999", "0.001", "0.0010", "0.00100000001",
    "0.01", "0.0100", "0.010000001", "0.0099", "-3.5", "-3.50", "-3.5000001", "-3.49", "-1.05", "-1.0500", "-1.0499",
    "-1.051", "-1.04", "99.9", "99.90", "99.91", "99.899", "0.00001", "0.000010", "0.0000100001", "0.00000999",
    "1500", "1500.0", "1500.0001", "1499.9999", "-0.1", "0.1",
]


def decimal_form(text):
    import re
    m = re.fullmatch(r"-?(0|[1-9]\d*)(\.\d+)?", text)
    if not m:
        return False
    digits = sum(ch.isdigit() for ch in text)
    negative_zero = re.fullmatch(r"-0(\.0+)?", text) is not None
    return digits <= 15 and not negative_zero


def is_json(text):
    try:
        json.loads(text)
        return True
    except json.JSONDecodeError:
        return False


def integer_texts():
    values = set(range(-1300, 1301, 7)) | {10**19, -(10**19), 10**20 - 1, -(10**20 - 1), 10**20,
                                            -12345678901234567, -12345678901234568, 98765432109876543209,
                                            98765432109876543210, 99999, 100000, 12345678901234567,
                                            18446744073709551614, 18446744073709551615, 18446744073709551616}
    for bound in (0, 100, -5, -6, 1234, 1235, 7, 8, 9, -1000, -1001, -37, -36, 2, 3, 999, 1000, 10, 9):
        values |= {bound - 1, bound, bound + 1}
    texts = sorted(str(v) for v in values)
    return texts + ["-0", "007", "1.0", "5e2"]


def main():
    for name, schema in BOUNDED_INTEGERS:
        validator = jsonschema.Draft202012Validator(schema)
        generated, others = [], []
        for text in integer_texts():
            canonical = text == str(int(text)) if text.lstrip("-").isdigit() else False
            canonical = canonical and len(text.lstrip("-")) <= 20
            if canonical and is_json(text) and validator.is_valid(json.loads(text)):
                generated.append(text)
            else:
                others.append(text)
        CASES.append((name, schema, generated, others))
    for name, schema in MULTIPLES:
        validator = jsonschema.Draft202012Validator(schema)
        generated, others = [], []
        for text in integer_texts() + MULTIPLE_EXTRA_TEXTS:
            canonical = text.lstrip("-").isdigit() and text == str(int(text)) and len(text.lstrip("-")) <= 20
            if canonical and validator.is_valid(json.loads(text)):
                generated.append(text)
            else:
                others.append(text)
        CASES.append((name, schema, generated, others))
    for name, schema in BOUNDED_NUMBERS:
        validator = jsonschema.Draft202012Validator(schema)
        generated, others = [], []
        for text in NUMBER_TEXTS:
            valid = is_json(text) and validator.is_valid(json.loads(text))
            shaped = decimal_form(text) or (text == "null" and "null" in schema.get("type", []))
            (generated if valid and shaped else others).append(text)
        CASES.append((name, schema, generated, others))
    CASES.extend(PATTERNS)
    out = []
    for name, schema, generated, others in CASES:
        validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
        texts = []
        for text, mark in [(t, True) for t in generated] + [(t, False) for t in others]:
            valid = is_json(text) and validator.is_valid(json.loads(text))
            if mark and not valid:
                raise SystemExit(f"{name}: {text!r} is marked generated but jsonschema calls it invalid")
            texts.append({"text": text, "valid": valid, "generated": mark})
        out.append({"name": name, "schema": schema, "texts": texts})
    path = pathlib.Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "json-schema" / "cases.json"
    # One schema per line: the integer cases hold thousands of short texts.
    lines = ",\n".join(json.dumps(case, ensure_ascii=False, separators=(",", ":")) for case in out)
    path.write_text("[\n" + lines + "\n]\n", encoding="utf-8")
    print(f"wrote {path}: {len(out)} schemas, {sum(len(c['texts']) for c in out)} texts")


if __name__ == "__main__":
    main()
