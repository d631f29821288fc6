#!/usr/bin/env python3
"""Writes data/chat_template_cases.jsonl: conversations rendered by DeepSeek-V3's
chat_template with Jinja2 under Hugging Face's settings (an oracle for Fathom's
Jinja interpreter on DeepSeek-V3's template, beyond the 12 cases in
../shared/testdata/chat_template.jsonl; gen_jinja_cases.py covers other templates).

The cases stress the template's state machine: several tool-call rounds (its
is_first / is_output_first flags are never reset), system turns anywhere, roles
it ignores, empty and non-ASCII content.

    pip install jinja2
    python3 tests/tokenizer/gen_chat_template_cases.py [--shared ../shared]
"""
import argparse
import json
import pathlib
import random

from jinja2.ext import loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment

HERE = pathlib.Path(__file__).resolve().parent


def hf_template(source):
    # What transformers' apply_chat_template uses.
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
    return env.from_string(source)


def random_text(rng):
    pool = ["", " ", "Hi", "  spaced  ", "line\nbreak", "多语言", "emoji 🚀", "<think>\nx\n</think>\n\ny",
            "{\"a\": 1}", "tab\tend\n", "ünïcödé"]
    return rng.choice(pool)


def random_call(rng):
    name = rng.choice(["get_weather", "search", "f"])
    args = json.dumps({"q": random_text(rng)}, ensure_ascii=rng.random() < 0.5)
    return {"type": "function", "function": {"name": name, "arguments": args}}


def random_message(rng):
    kind = rng.choice(["system", "user", "user", "assistant", "assistant", "tool", "tool_calls", "other"])
    if kind == "tool_calls":
        message = {"role": "assistant", "content": None}
        if rng.random() < 0.9:
            message["tool_calls"] = [random_call(rng) for _ in range(rng.randint(0, 3))]
        return message
    if kind == "other":
        return {"role": rng.choice(["developer", "function", "ipython"]), "content": random_text(rng)}
    return {"role": kind, "content": random_text(rng)}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", default=str(HERE.parents[2] / "shared"), help="the shared/ folder")
    parser.add_argument("--count", type=int, default=120)
    parser.add_argument("--seed", type=int, default=4)
    args = parser.parse_args()

    config = json.loads((pathlib.Path(args.shared) / "models/deepseek-v3-tokenizer/tokenizer_config.json").read_text())
    template = hf_template(config["chat_template"])
    bos = config["bos_token"]["content"]
    rng = random.Random(args.seed)
    out = HERE / "data" / "chat_template_cases.jsonl"
    with out.open("w", encoding="utf-8") as f:
        for _ in range(args.count):
            messages = [random_message(rng) for _ in range(rng.randint(0, 8))]
            for add_generation_prompt in (False, True):
                rendered = template.render(messages=messages, add_generation_prompt=add_generation_prompt,
                                           bos_token=bos)
                f.write(json.dumps({"messages": messages, "add_generation_prompt": add_generation_prompt,
                                    "rendered": rendered}, ensure_ascii=False) + "\n")
    print(f"wrote {out} ({2 * args.count} renders)")


if __name__ == "__main__":
    main()
