#!/usr/bin/env python3
"""Time to first token of each turn of a conversation, with runtime.prefix_caching on and off.

Starts `fathom serve` (fathom_server.py) and holds a conversation: a long first message, then
short ones, each turn sending the whole history as a chat client does. Prints each turn's prompt
tokens, cached tokens (usage.prompt_tokens_details) and time to first token. Needs `openai`.

  python tools/bench/chat_turns.py --fathom build/bin/fathom --model DIR --config cpu.toml
"""
from __future__ import annotations

import argparse
import sys
import time

import openai

from fathom_server import serving


def conversation(client: openai.OpenAI, model_id: str, first_chars: int, turns: int, reply_tokens: int):
    messages = [{"role": "user", "content": ("The quick brown fox jumps over the lazy dog. " * 200)[:first_chars]}]
    for turn in range(turns):
        t0 = time.perf_counter()
        stream = client.chat.completions.create(model=model_id, messages=messages, max_tokens=reply_tokens,
                                                temperature=0, stream=True, stream_options={"include_usage": True})
        ttft, text, usage = None, "", None
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                ttft = ttft or time.perf_counter() - t0
                text += chunk.choices[0].delta.content
            if chunk.usage:
                usage = chunk.usage
        yield turn + 1, usage.prompt_tokens, usage.prompt_tokens_details.cached_tokens, ttft
        messages += [{"role": "assistant", "content": text}, {"role": "user", "content": f"Go on ({turn + 2})."}]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fathom", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--config", required=True, help="deployment TOML; [runtime] prefix_caching is set per run")
    ap.add_argument("--first-chars", type=int, default=1500)
    ap.add_argument("--turns", type=int, default=4)
    ap.add_argument("--reply-tokens", type=int, default=16)
    args = ap.parse_args()
    print("| prefix_caching | turn | prompt tokens | cached tokens | time to first token (s) |")
    print("|---|---:|---:|---:|---:|")
    for caching in ("true", "false"):
        with serving(args.fathom, args.model, args.config, f"prefix_caching = {caching}") as (client, model_id):
            for turn, prompt, cached, ttft in conversation(client, model_id, args.first_chars, args.turns, args.reply_tokens):
                print(f"| {caching} | {turn} | {prompt} | {cached} | {ttft:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
