#!/usr/bin/env python3
"""Writes tests/fixtures/gbnf/cases.json: GBNF grammars (llama.cpp's notation, which Fathom reads
for structured output: core/engine/src/gbnf_grammar.cpp) with texts, each judged by the Lark
parser (PyPI `lark`, Earley) on the same grammar written by hand in Lark's notation -- the oracle
of which texts the grammar derives.

The tests check that Fathom's grammar accepts exactly the texts Lark parses, and that every
prefix of those stays alive while being generated. A text marked "valid" that Lark rejects stops
this script (the two notations of a case must say the same thing).

    pip install lark
    python3 tools/reference/make_gbnf_cases.py
"""
import json
import pathlib

from lark import Lark
from lark.exceptions import LarkError

# (GBNF, the same grammar for Lark, texts it derives, other texts to judge)
CASES = [
    (
        """root ::= expr
expr ::= term (("+" | "-") term)*
term ::= factor (("*" | "/") factor)*
factor ::= number | "(" expr ")"
number ::= [0-9]+
""",
        """start: expr
expr: term (("+" | "-") term)*
term: factor (("*" | "/") factor)*
factor: number | "(" expr ")"
number: /[0-9]/+
""",
        ["1", "12+3*(4-5)", "((7))", "007/8"],
        ["1+", "(1", "1)(", "", "1 + 2", "+1", "()"],
    ),
    (
        """# brackets, balanced; an alternative may go on after '|' on the next line
root ::= item*   # any number of them
item ::= "(" root ")" |
         "[" root "]"
""",
        """start: item*
item: "(" start ")" | "[" start "]"
""",
        ["", "()", "([])[]", "[()]()", "(((())))"],
        ["(]", "((", ")(", "[)", "(()"],
    ),
    (
        """root ::= greet " " name "\\n"?
greet ::= "héllo" | "你好" | "\\u00e9t\\xe9"
name ::= [A-ZÀ-Ö] [a-zà-ÿ]* | [一-鿿]{1,3}
""",
        """start: greet " " name "\\n"?
greet: "héllo" | "你好" | "été"
name: /[A-ZÀ-Ö]/ /[a-zà-ÿ]/* | /[一-鿿]/~1..3
""",
        ["héllo Élodie", "你好 中文字", "été Ann\n", "héllo Ö"],
        ["hello Ann", "你好 中文字词", "héllo ×", "été ann", "你好 ", "héllo Élodie\n\n"],
    ),
    (
        """root ::= "\\"" [^"\\\\]{0,5} "\\"" ":" .{2} "end"{1,2}
""",
        r"""start: "\"" /[^"\\]/~0..5 "\"" ":" /(?s:.)/~2 "end"~1..2
""",
        ['"abc":xyend', '"":é\nendend', '"\t\n":  end'],
        ['"abcdef":xyend', '"a\\":xyend', '"ab":xend', '"ab":xyendendend', '"ab":xy'],
    ),
    (
        """root ::= list-item{2,} sep?
list-item ::= "-" [ \\t]+ word{,2} "\\n"
word ::= [a-z]+ " "?
sep ::= "---"
""",
        """start: list_item list_item+ sep?
list_item: "-" /[ \\t]/+ word~0..2 "\\n"
word: /[a-z]/+ " "?
sep: "---"
""",
        ["- a\n- b c\n", "- \n-\tx\n---", "-  ab cd\n- x\n- y\n"],
        ["- a\n", "-a\n- b\n", "- a b c\n- d\n", "- a\n- b\n--", ""],
    ),
    (
        """root ::= ( "a" | "b" )+ ( "x" ( "y" | "z" )? ){0,2} [^a-z0-9]
""",
        """start: ("a" | "b")+ ("x" ("y" | "z")?)~0..2 /[^a-z0-9]/
""",
        ["a!", "abbaxyxZ", "bx ", "bxzx\u00e9"[:-1] + "É"],
        ["a", "ax9", "axyxyxy!", "c!", "ab\u00e9"],
    ),
]


def main() -> None:
    out = []
    for gbnf, lark_text, valid, others in CASES:
        parser = Lark(lark_text, parser="earley", lexer="dynamic_complete")

        def parses(text: str) -> bool:
            try:
                parser.parse(text)
                return True
            except LarkError:
                return False

        texts = []
        for text in valid:
            assert parses(text), f"Lark does not parse {text!r}, marked valid, with\n{lark_text}"
            texts.append({"text": text, "valid": True})
        for text in others:
            texts.append({"text": text, "valid": parses(text)})
        out.append({"gbnf": gbnf, "lark": lark_text, "texts": texts})
    path = pathlib.Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "gbnf" / "cases.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, ensure_ascii=False, indent=1) + "\n")
    print(f"wrote {path} ({len(out)} grammars, {sum(len(c['texts']) for c in out)} texts)")


if __name__ == "__main__":
    main()
