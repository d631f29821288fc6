#!/usr/bin/env python3
"""Time to first token of each turn of a conversation, with runtime.prefix_caching on and off.

Starts `fathom serve` (fathom_server.py) and holds a conversation: a long first message, then
short ones, each turn sending the whole history as a chat client does. Prints each turn's prompt
tokens, cached tokens (usage.prompt_tokens_details) and time to first token. Needs `openai`.

With --conversations N, N conversations take turns; they share the long first message as their
system prompt and each asks its own question (the case of a service with one system prompt).

  python tools/bench/chat_turns.py --fathom build/bin/fathom --model DIR --config cpu.toml
  python tools/bench/chat_turns.py --fathom build/bin/fathom --model DIR --config cpu.toml --conversations 2
"""
from __future__ import annotations

import argparse
import sys
import time

import openai

from fathom_server import serving


def conversation(client: openai.OpenAI, model_id: str, first_chars: int, turns: int, reply_tokens: int,
                 question: str | None = None):
    long_text = ("The quick brown fox jumps over the lazy dog. " * 200)[:first_chars]
    if question is None:
        messages = [{"role": "user", "content": long_text}]
    else:
        messages = [{"role": "system", "content": long_text}, {"role": "user", "content": question}]
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
    ap.add_argument("--conversations", type=int, default=1,
                    help="conversations taking turns, sharing the long first message as system prompt")
    args = ap.parse_args()
    print("| prefix_caching | turn | conversation | prompt tokens | cached tokens | time to first token (s) |")
    print("|---|---:|---:|---:|---:|---:|")
    for caching in ("true", "false"):
        with serving(args.fathom, args.model, args.config, f"prefix_caching = {caching}") as (client, model_id):
            if args.conversations == 1:
                chats = [conversation(client, model_id, args.first_chars, args.turns, args.reply_tokens)]
            else:
                chats = [conversation(client, model_id, args.first_chars, args.turns, args.reply_tokens,
                                      f"Question {i + 1}: what does the text say about animal number {i + 1}?")
                         for i in range(args.conversations)]
            for _ in range(args.turns):
                for i, chat in enumerate(chats):
                    turn, prompt, cached, ttft = next(chat)
                    print(f"| {caching} | {turn} | {i + 1} | {prompt} | {cached} | {ttft:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
