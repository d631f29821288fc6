#!/usr/bin/env python3
"""Writes tests/fixtures/json-schema/cases.json: JSON schemas with texts, each judged by the
`jsonschema` package (Draft 2020-12), the oracle of Fathom's structured-output tests.

A text marked "generated" is one Fathom's grammar for the schema must accept: members in the
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


def main():
    out = []
    for name, schema, generated, others in CASES:
        validator = jsonschema.Draft202012Validator(schema)
        texts = []
        for text, mark in [(t, True) for t in generated] + [(t, False) for t in others]:
            valid = validator.is_valid(json.loads(text))
            if mark and not valid:
                raise SystemExit(f"{name}: {text!r} is marked generated but jsonschema calls it invalid")
            texts.append({"text": text, "valid": valid, "generated": mark})
        out.append({"name": name, "schema": schema, "texts": texts})
    path = pathlib.Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "json-schema" / "cases.json"
    path.write_text(json.dumps(out, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {path}: {len(out)} schemas, {sum(len(c['texts']) for c in out)} texts")


if __name__ == "__main__":
    main()
