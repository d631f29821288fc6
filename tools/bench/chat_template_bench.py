#!/usr/bin/env python3
"""How fast chat templates render: Fathom's Jinja interpreter (`fathom chat-render`) against
transformers' apply_chat_template (Jinja2), on the same conversations and template.

Each side renders the conversations of tests/tokenizer/data/jinja_chat_cases.jsonl that use the
chosen template, repeated to COUNT renders. Fathom's time is a process run minus the same run over
one conversation (process start and tokenizer load); transformers' is timed in-process. Both
print text only (no token ids).

    /tmp/tf-venv/bin/python tools/bench/chat_template_bench.py --fathom build/bin/fathom \\
        [--template deepseek-v3.jinja] [--count 20000]
"""
import argparse
import json
import pathlib
import subprocess
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "tokenizer" / "data"


def fathom_seconds(fathom, tokenizer, template, lines, path):
    path.write_text("".join(lines), encoding="utf-8")
    start = time.perf_counter()
    subprocess.run([fathom, "chat-render", "--tokenizer", str(tokenizer), "--chat-template", str(template),
                    "--jsonl", str(path)], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fathom", default=str(REPO / "build" / "bin" / "fathom"))
    parser.add_argument("--shared", default=str(REPO.parent / "shared"))
    parser.add_argument("--template", default="deepseek-v3.jinja")
    parser.add_argument("--count", type=int, default=20000)
    args = parser.parse_args()

    tokenizer_dir = pathlib.Path(args.shared) / "models" / "deepseek-v3-tokenizer"
    template_path = DATA / "templates" / args.template
    cases = [json.loads(line) for line in (DATA / "jinja_chat_cases.jsonl").open(encoding="utf-8")]
    # transformers 5 drops None-valued keys, on which DeepSeek's templates fail, and refuses empty
    # conversations: such cases are left out.
    cases = [c for c in cases if c["template"] == args.template and "error" not in c and "tools" not in c
             and "kwargs" not in c and c["messages"] and all(m.get("content") is not None for m in c["messages"])]
    lines = [json.dumps({"messages": c["messages"], "add_generation_prompt": c["add_generation_prompt"]},
                        ensure_ascii=False) + "\n" for c in cases]
    repeated = (lines * (args.count // len(lines) + 1))[: args.count]
    turns = sum(len(json.loads(line)["messages"]) for line in repeated) / len(repeated)

    with tempfile.TemporaryDirectory() as tmp:
        base = min(fathom_seconds(args.fathom, tokenizer_dir, template_path, repeated[:1], pathlib.Path(tmp) / "one")
                   for _ in range(3))
        full = min(fathom_seconds(args.fathom, tokenizer_dir, template_path, repeated, pathlib.Path(tmp) / "all")
                   for _ in range(3))
    fathom_us = (full - base) / len(repeated) * 1e6

    from transformers import AutoTokenizer
    tok = AutoTokenizer.from_pretrained(tokenizer_dir)
    source = template_path.read_text(encoding="utf-8")
    conversations = [json.loads(line) for line in repeated]
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for c in conversations:
            tok.apply_chat_template(c["messages"], add_generation_prompt=c["add_generation_prompt"], tokenize=False,
                                    chat_template=source)
        best = min(best, time.perf_counter() - start)
    hf_us = best / len(conversations) * 1e6
    print(f"template {args.template}: {len(repeated)} renders, {turns:.1f} messages each on average")
    print(f"  fathom chat-render      {fathom_us:8.1f} us per conversation (JSON parse + render + print)")
    print(f"  transformers 5.24 Jinja {hf_us:8.1f} us per conversation (apply_chat_template, tokenize=False)")


if __name__ == "__main__":
    main()
