#!/usr/bin/env python3
"""Writes tests/fixtures/regex/cases.json: regular expressions with texts, each judged by Python's
`re.fullmatch`, the oracle of Fathom's regex structured output (vLLM's `structured_outputs`
`regex`, whose output the expression must match whole).

A text marked "generated" is one Fathom's grammar must accept (within what it generates: `.` and
negated classes give no line breaks or other control characters but tab). The tests check that
every text the grammar accepts is one re.fullmatch accepts, and that every "generated" text is
accepted. The marks are ours; the verdicts are Python's (a "generated" text re rejects stops
this script).

    python3 tools/reference/make_regex_cases.py
"""
import json
import pathlib
import re

# (pattern, texts Fathom must generate, other texts to judge)
CASES = [
    (r"\w+@\w+\.com", ["alan@enigma.com", "a_1@b.com"], ["alan@enigma.co", "@b.com", "a@b.com\n", "a b@c.com"]),
    (r"^[A-Z]{2,3}-\d{1,3}(\.[a-z]+)?$", ["AB-1", "ABC-123.xyz"], ["A-1", "ABCD-1", "AB-1234", "AB-1.", "ab-1"]),
    (r"(yes|no|maybe)", ["yes", "no", "maybe"], ["Yes", "yesno", "", "may"]),
    (r"[0-9]{3}", ["123", "000"], ["12", "1234", "a123", "12a"]),
    (r"a.c\D\W\S\s?", ["abcx!y", "a c- z ", "a\tc.%\"\t"], ["ac", "abc1!y", "abcx y", "a\nc_!y"]),
    (r"(?:\d+,)*\d+", ["1", "1,22,333"], [",1", "1,", "1,,2", ""]),
    (r"[^\"\\]{0,6}", ["", "abc", "é ü", "x'y`z"], ["a\"b", "1234567", "a\\b"]),
    (r"-?(0|[1-9]\d*)(\.\d+)?", ["0", "-12.5", "7"], ["01", "-", "1.", ".5", "+1"]),
    (r"[a-c]{2}x*|z", ["ab", "ccxxx", "z"], ["a", "zx", "abz", "dd"]),
    (r"\(\d\)\s\[x\]\{\}\.\*\+\?\|\^\$", ["(1) [x]{}.*+?|^$"], ["(1)[x]{}.*+?|^$", "(a) [x]{}.*+?|^$"]),
    (r"日本語?\d", ["日本語1", "日本2"], ["日本", "日語1"]),
    (r"[\w.-]+", ["a.b-c_d", "x"], ["", "a b", "a/b"]),
]


def main() -> None:
    out = []
    for pattern, generated, others in CASES:
        compiled = re.compile(pattern)
        texts = []
        for text in generated:
            assert compiled.fullmatch(text), f"{pattern!r} does not match {text!r}, marked generated"
            texts.append({"text": text, "valid": True, "generated": True})
        for text in others:
            texts.append({"text": text, "valid": compiled.fullmatch(text) is not None, "generated": False})
        out.append({"pattern": pattern, "texts": texts})
    path = pathlib.Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "regex" / "cases.json"
    path.write_text(json.dumps(out, ensure_ascii=False, indent=1) + "\n")
    print(f"wrote {path} ({len(out)} patterns)")


if __name__ == "__main__":
    main()
