#!/usr/bin/env python3
"""Writes the oracle for Fathom's Jinja interpreter: what Hugging Face
transformers renders, byte for byte, or that it fails.

  data/jinja_chat_cases.jsonl   conversations through whole chat templates
                                (data/templates/*.jinja) in the environment
                                apply_chat_template compiles, with the
                                variables it passes (tools and keyword
                                arguments included)
  data/jinja_expression_cases.jsonl
                                one-line templates rendered by transformers'
                                own compiled environment, for the semantics of
                                single expressions (Python's str/repr, slicing,
                                split, filters, tests, scoping)

DeepSeek's templates: deepseek-v3.jinja is copied from the shared tokenizer;
deepseek-r1.jinja is derived from it by the two edits DeepSeek-R1 made (earlier
reasoning dropped from assistant turns, "<think>\\n" opening the reply);
deepseek-v2-chat.jinja and deepseek-v3.1.jinja are those models' templates.
The other templates are Fathom's own, written to exercise the language.

    python3 -m venv /tmp/tf-venv && /tmp/tf-venv/bin/pip install transformers==5.24.0 jinja2==3.1.6
    /tmp/tf-venv/bin/python tests/tokenizer/gen_jinja_cases.py [--shared ../shared]
"""
import argparse
import json
import pathlib
import random

from transformers import AutoTokenizer
from transformers.utils.chat_template_utils import _compile_jinja_template

HERE = pathlib.Path(__file__).resolve().parent
DATA = HERE / "data"
TEMPLATES = DATA / "templates"


def write_deepseek_templates(shared):
    config = json.loads((shared / "models/deepseek-v3-tokenizer/tokenizer_config.json").read_text())
    v3 = config["chat_template"]
    (TEMPLATES / "deepseek-v3.jinja").write_text(v3, encoding="utf-8")
    keep_answer = ("{%- else %}{{'<｜Assistant｜>' + message['content'] + '<｜end▁of▁sentence｜>'}}",
                   "{%- else %}{% set content = message['content'] %}{% if '</think>' in content %}"
                   "{% set content = content.split('</think>')[-1] %}{% endif %}"
                   "{{'<｜Assistant｜>' + content + '<｜end▁of▁sentence｜>'}}")
    open_thinking = ("{% if add_generation_prompt and not ns.is_tool %}{{'<｜Assistant｜>'}}{% endif %}",
                     "{% if add_generation_prompt and not ns.is_tool %}{{'<｜Assistant｜><think>\\n'}}{% endif %}")
    r1 = v3
    for old, new in (keep_answer, open_thinking):
        assert r1.count(old) == 1, old
        r1 = r1.replace(old, new)
    (TEMPLATES / "deepseek-r1.jinja").write_text(r1, encoding="utf-8")


TEXTS = ["", " ", "Hi there.", "  spaced  out!  ", "line\nbreak\n", "多语言 текст", "emoji 🚀!",
         "<think>\nreasoning\n</think>\n\nanswer", "a</think>b</think>c", "{\"a\": 1}", "tab\tend\n",
         "ünïcödé", "Hello world, hello again"]


def random_call(rng):
    name = rng.choice(["get_weather", "search", "f"])
    args = json.dumps({"q": rng.choice(TEXTS)}, ensure_ascii=rng.random() < 0.5)
    return {"id": f"call_{rng.randint(0, 99)}", "type": "function", "function": {"name": name, "arguments": args}}


def random_message(rng):
    kind = rng.choice(["system", "user", "user", "assistant", "assistant", "tool", "tool_calls", "other"])
    if kind == "tool_calls":
        message = {"role": "assistant", "content": rng.choice([None, None, "Let me check."])}
        message["tool_calls"] = [random_call(rng) for _ in range(rng.randint(0, 3))]
        return message
    if kind == "other":
        return {"role": rng.choice(["developer", "ipython"]), "content": rng.choice(TEXTS)}
    message = {"role": kind, "content": rng.choice(TEXTS)}
    if kind == "tool" and rng.random() < 0.5:
        message["tool_call_id"] = f"call_{rng.randint(0, 99)}"
    if kind == "user" and rng.random() < 0.2:
        message["name"] = "alice"
    if kind == "assistant" and rng.random() < 0.2:
        message["prefix"] = rng.random() < 0.5
    return message


TOOLS = [
    {"type": "function", "function": {
        "name": "get_weather", "description": "Weather now, in °C.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}, "days": {"type": "integer",
                       "minimum": 1}}, "required": ["city"]}}},
    {"type": "function", "function": {"name": "search", "description": "Search \"the web\".\n",
                                      "parameters": {"type": "object", "properties": {}}}},
]


def random_conversation(rng):
    return [random_message(rng) for _ in range(rng.randint(0, 7))]


def strict_conversation(rng):
    # Mostly alternating turns, so that strict_roles.jinja renders as often as it refuses.
    messages = [{"role": "system", "content": rng.choice(TEXTS)}] if rng.random() < 0.4 else []
    for i in range(rng.randint(0, 5)):
        messages.append({"role": "user" if i % 2 == 0 else "assistant", "content": rng.choice(TEXTS)})
    if rng.random() < 0.3 and messages:
        rng.shuffle(messages)
    return messages


def chat_cases(tokenizer, rng):
    cases = []
    for path in sorted(TEMPLATES.glob("*.jinja")):
        template = path.read_text(encoding="utf-8")
        count = 60 if path.stem.startswith("deepseek") else 40
        for i in range(count):
            messages = strict_conversation(rng) if path.stem == "strict_roles" else random_conversation(rng)
            case = {"template": path.name, "messages": messages, "add_generation_prompt": rng.random() < 0.6}
            if rng.random() < 0.4:
                case["tools"] = TOOLS[: rng.randint(1, 2)]
            if rng.random() < 0.4:
                case["kwargs"] = {"thinking": rng.random() < 0.5}
            try:
                # What apply_chat_template hands the template, minus transformers 5's message
                # rewriting (it drops None-valued keys, which breaks DeepSeek's own test of
                # `content is none`; Fathom passes messages as sent, as transformers 4 and vLLM do).
                case["rendered"] = _compile_jinja_template(template).render(
                    messages=messages, tools=case.get("tools"), documents=None,
                    add_generation_prompt=case["add_generation_prompt"], **tokenizer.special_tokens_map,
                    **case.get("kwargs", {}))
            except Exception as e:  # the template refused or failed: Fathom must fail too
                case["error"] = type(e).__name__ + ": " + str(e)
            cases.append(case)
    return cases


# (template, variables) pairs for single expressions; the variables are JSON.
EXPRESSIONS = [
    ("{{ x }}", {"x": None}), ("{{ x }}", {"x": True}), ("{{ x }}", {"x": 1.0}), ("{{ x }}", {"x": 1e16}),
    ("{{ x }}", {"x": 1.5e-7}), ("{{ x }}", {"x": 123456.789}), ("{{ x }}", {"x": -0.0001}), ("{{ x }}", {"x": 2 ** 62}),
    ("{{ x }}", {"x": [1, "a", None, True, 2.5, {"k": "v"}]}), ("{{ x }}", {"x": {"a": [1], "b": "it's"}}),
    ("{{ x }}", {"x": "quote\"and'apostrophe"}), ("{{ [x] }}", {"x": "quote\"and'apostrophe"}),
    ("{{ [x] }}", {"x": "it's"}), ("{{ [x] }}", {"x": "tab\tnew\nline\\back"}), ("{{ [x] }}", {"x": "\u0001"}),
    ("{{ missing }}|{{ missing is defined }}|{{ missing is undefined }}|{{ missing | default('d') }}", {}),
    ("{{ missing.attr }}", {}), ("{{ missing['k'] }}", {}), ("{{ missing + 'x' }}", {}), ("{{ 'x' + missing }}", {}),
    ("{{ none + 'x' }}", {}), ("{{ 'x' + 1 }}", {}), ("{{ 1 + 'x' }}", {}), ("{{ [1] + [2, 3] }}", {}),
    ("{{ d.k }}|{{ d['k'] }}|{{ d.missing }}|{{ d['missing'] is defined }}", {"d": {"k": "v"}}),
    ("{{ d.get('k') }}|{{ d.get('z') }}|{{ d.get('z', 'dflt') }}|{{ d.keys() | list }}|{{ d.values() | list }}",
     {"d": {"k": "v", "j": 2}}),
    ("{{ x.missing.deeper }}", {"x": {}}), ("{{ n.attr }}", {"n": None}), ("{{ n['k'] }}|{{ n.k is defined }}", {"n": None}),
    ("{{ l[0] }}|{{ l[-1] }}|{{ l[5] }}|{{ l[1:] }}|{{ l[:-1] }}|{{ l[::2] }}|{{ l[::-1] }}|{{ l[5:9] }}|{{ l[-9:1] }}",
     {"l": [1, 2, 3, 4]}),
    ("{{ s[0] }}|{{ s[-1] }}|{{ s[1:3] }}|{{ s[::-1] }}|{{ s | length }}|{{ s[10] is defined }}", {"s": "héllo🚀"}),
    ("{{ s.split() }}|{{ s.split(' ') }}|{{ s.split(',', 1) }}|{{ s.rsplit(',', 1) }}|{{ s.split(None, 1) }}",
     {"s": "  a b,c ,d  "}),
    ("{{ s.split('</think>')[-1] }}|{{ s.split('</think>', 1)[1] }}", {"s": "a</think>b</think>c"}),
    ("{{ s.strip() }}|{{ s.lstrip() }}|{{ s.rstrip() }}|{{ s.strip('xy ') }}|{{ s | trim }}", {"s": " xy\u3000text yx \n"}),
    ("{{ s.startswith('ab') }}|{{ s.endswith(('z', 'c')) }}|{{ s.upper() }}|{{ s.lower() }}|{{ s.find('c') }}|"
     "{{ s.replace('b', 'B') }}|{{ s.replace('', '-') }}|{{ '-'.join(['x', 'y']) }}", {"s": "abcABC"}),
    ("{{ s | upper }}|{{ s | lower }}|{{ s | capitalize }}|{{ s | replace('a', 'o') }}|{{ s | wordcount }}|"
     "{{ s | string }}|{{ s | reverse }}|{{ s | first }}|{{ s | last }}", {"s": "banana Split"}),
    ("{{ l | join }}|{{ l | join(', ') }}|{{ l | first }}|{{ l | last }}|{{ l | length }}|{{ l | count }}|"
     "{{ l | reverse | list }}|{{ l | unique | list }}|{{ l | select('odd') | list }}|{{ l | reject('odd') | list }}|"
     "{{ l | select | list }}", {"l": [3, 1, 3, 0, 2]}),
    ("{{ [] | first }}|{{ [] | join(',') }}|{{ '' | length }}", {}),
    ("{{ x | int }}|{{ x | float }}|{{ 'z' | int }}|{{ 'z' | int(7) }}|{{ 3.9 | int }}|{{ true | int }}|{{ -5 | abs }}",
     {"x": " 42 "}),
    ("{{ x | tojson }}", {"x": {"b": [1, 2.0, None, False, "é\"\\\n\u0001"], "a": {}}}),
    ("{{ x | tojson(indent=2) }}", {"x": {"b": [1, {"c": []}], "a": "x"}}),
    ("{{ x | tojson(indent=4, sort_keys=true) }}", {"x": {"b": 1, "a": [True]}}),
    ("{{ x | tojson }}", {"x": [1e100, 0.1, -3, 1234567890123456789]}),
    ("{{ d | items | list | length }}|{% for k, v in d | items %}{{ k }}:{{ v }};{% endfor %}|{% for k in d %}{{ k }}{% endfor %}",
     {"d": {"z": 1, "a": 2}}),
    ("{{ users | map(attribute='name') | join('/') }}|{{ users | selectattr('admin') | map(attribute='name') | list }}|"
     "{{ users | rejectattr('admin') | list | length }}|{{ users | selectattr('name', 'equalto', 'bo') | list }}|"
     "{{ users | map(attribute='age', default=0) | list }}",
     {"users": [{"name": "al", "admin": True, "age": 3}, {"name": "bo", "admin": False}]}),
    ("{{ 7 // 2 }}|{{ -7 // 2 }}|{{ 7 % 3 }}|{{ -7 % 3 }}|{{ 7 / 2 }}|{{ 6 / 3 }}|{{ 2 ** 10 }}|{{ 2 ** -1 }}|"
     "{{ 1 + 2 * 3 }}|{{ (1 + 2) * 3 }}|{{ 7.5 // 2 }}|{{ 7.5 % 2 }}|{{ 'ab' * 3 }}|{{ 1 ~ 2 ~ none }}", {}),
    ("{{ 1 / 0 }}", {}), ("{{ 1 // 0 }}", {}),
    ("{{ 1 == 1.0 }}|{{ true == 1 }}|{{ 'a' < 'b' }}|{{ [1, 2] < [1, 3] }}|{{ 2 >= 2 }}|{{ none == none }}|"
     "{{ 'a' != 'a' }}|{{ {'a': 1} == {'a': 1} }}|{{ 0 == false }}", {}),
    ("{{ 'a' < 1 }}", {}),
    ("{{ 'b' in 'abc' }}|{{ 2 in [1, 2] }}|{{ 'k' in d }}|{{ 'z' not in d }}|{{ 'x' in missing }}", {"d": {"k": 1}}),
    ("{{ 1 in 'abc' }}", {}),
    ("{{ x if x else 'empty' }}|{{ 'yes' if true }}|{{ 'no' if false }}|{{ x or 'fallback' }}|{{ x and 'both' }}|"
     "{{ not x }}|{{ not x is defined }}", {"x": ""}),
    ("{{ 1 is odd }}|{{ 4 is even }}|{{ 9 is divisibleby 3 }}|{{ 9 is divisibleby(4) }}|{{ x is string }}|"
     "{{ x is number }}|{{ 1 is integer }}|{{ 1.0 is float }}|{{ true is boolean }}|{{ d is mapping }}|"
     "{{ d is iterable }}|{{ x is sequence }}|{{ none is none }}|{{ x is not none }}|{{ 2 is eq 2 }}|{{ 2 is ne 2 }}|"
     "{{ 1 is lt 2 }}|{{ 'ab' is lower }}|{{ 'AB' is upper }}|{{ 2 is in [1, 2] }}|{{ true is true }}|{{ 0 is false }}",
     {"x": "s", "d": {}}),
    ("{% set x = 1 %}{% for i in [1, 2] %}[{{ x }}]{% set x = i * 10 %}[{{ x }}]{% endfor %}[{{ x }}]", {}),
    ("{% for i in [1, 2] %}{% if i == 2 %}[{{ y }}]{% endif %}{% set y = i %}{% endfor %}", {}),
    ("{% set x = 1 %}{% if true %}{% set x = 2 %}{% endif %}{{ x }}", {}),
    ("{% set ns = namespace(total=0, items=[]) %}{% for i in range(5) %}{% set ns.total = ns.total + i %}"
     "{% set ns.items = ns.items + [i] %}{% endfor %}{{ ns.total }} {{ ns.items }}", {}),
    ("{% set ns = namespace() %}{% set ns.late = 'set later' %}{{ ns.late }}", {}),
    ("{% set v = 1 %}{% set v.attr = 2 %}", {}),
    ("{% for a in [1, 2] %}{% for b in ['x', 'y'] %}{{ loop.index }}{{ a }}{{ b }}{{ loop.first }} {% endfor %}"
     "{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.previtem }}{{ loop.nextitem }}|{% endfor %}", {}),
    ("{% for i in range(10) %}{% if i is odd %}{% continue %}{% endif %}{% if i > 6 %}{% break %}{% endif %}{{ i }}"
     "{% endfor %}|{% for i in range(0) %}x{% else %}empty{% endfor %}|{% for i in range(2, 9, 3) %}{{ i }}{% endfor %}|"
     "{% for i in range(5, 0, -2) %}{{ i }}{% endfor %}", {}),
    ("{% for x in 'héé' %}{{ loop.index0 }}{{ x }}{% endfor %}|{% for x in missing %}never{% endfor %}", {}),
    ("{% for x in none %}{% endfor %}", {}),
    ("{% for a, b in pairs %}{{ a }}={{ b }} {% endfor %}", {"pairs": [[1, 2], ["x", "y"]]}),
    ("{% for a, b in pairs %}{% endfor %}", {"pairs": [[1, 2, 3]]}),
    ("{% for m in msgs if m.keep %}{{ loop.index }}/{{ loop.length }}{{ m.v }} {% endfor %}",
     {"msgs": [{"keep": True, "v": "a"}, {"keep": False, "v": "b"}, {"keep": True, "v": "c"}]}),
    ("{% set block %}  inner {{ 1 + 1 }}\n{% endset %}[{{ block }}]", {}),
    ("{{ raise_exception('custom refusal') }}", {}),
    ("{{ range(3) | list }}|{{ range(1, 3) | list }}|{{ dict(a=1, b='x') }}|{{ namespace(a=1).a }}", {}),
    ("{{ 'a' 'b' }}|{{ \"\\u00e9\\n\\t\\x41\\101\\q\" }}|{{ '\\\\' }}|{{ 1_000 }}|{{ 1.5e3 }}|{{ (1, 2) | length }}", {}),
    ("{{ -x | abs }}|{{ -(x | abs) }}|{{ +x }}|{{ - - x }}|{{ not not x }}", {"x": 3}),
    ("  {% if true %}\n    kept\n  {% endif %}\n  {%- if true %}  left{% endif -%}  \n{{- '  strip  ' -}}  \n end",
     {}),
    ("a\r\nb\rc\n", {}), ("{# only a comment #}\n", {}), ("x {#- comment -#} y {#+ kept +#} z", {}),
    ("{{ 1 if x }}{{ 2 if x else 3 if y else 4 }}", {"x": False, "y": False}),
    ("{% generation %}generated {{ 1 }}{% endgeneration %}", {}),
]


def expression_cases():
    cases = []
    for template, variables in EXPRESSIONS:
        case = {"template": template, "variables": variables}
        try:
            case["rendered"] = _compile_jinja_template(template).render(**variables)
        except Exception as e:
            case["error"] = type(e).__name__ + ": " + str(e)
        cases.append(case)
    return cases


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", default=str(HERE.parents[2] / "shared"), help="the shared/ folder")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    shared = pathlib.Path(args.shared)

    write_deepseek_templates(shared)
    tokenizer = AutoTokenizer.from_pretrained(shared / "models/deepseek-v3-tokenizer")
    rng = random.Random(args.seed)
    for name, cases in (("jinja_chat_cases.jsonl", chat_cases(tokenizer, rng)),
                        ("jinja_expression_cases.jsonl", expression_cases())):
        with (DATA / name).open("w", encoding="utf-8") as f:
            for case in cases:
                f.write(json.dumps(case, ensure_ascii=False) + "\n")
        errors = sum("error" in c for c in cases)
        print(f"wrote {DATA / name}: {len(cases)} cases, {errors} of them errors")


if __name__ == "__main__":
    main()
