#!/usr/bin/env python3
"""How long a request that is already generating waits between two tokens while a long prompt
arrives: the pause that runtime.prefill_chunk bounds.

Starts `fathom serve` on a model (fathom_server.py), streams one completion (request A), and once A has produced a
few tokens sends request B with a long prompt. Prints A's largest gap between tokens after B was
sent, and B's time to first token. Needs the `openai` package.

  python tools/bench/prefill_stall.py --fathom build/bin/fathom --model DIR --config cpu.toml \
      --prefill-chunk 0,512 --long-prompt 2048
"""
from __future__ import annotations

import argparse
import sys
import threading
import time

import openai

from fathom_server import serving


def measure(client: openai.OpenAI, model_id: str, vocab: int, long_prompt: int, gen_tokens: int) -> tuple[float, float]:
    gaps: list[float] = []
    b_started = threading.Event()
    b_first: list[float] = []

    def request_b() -> None:
        ids = [(i * 7919 + 11) % vocab for i in range(long_prompt)]
        t0 = time.perf_counter()
        stream = client.completions.create(model=model_id, prompt=ids, max_tokens=2, temperature=0, stream=True)
        for _ in stream:
            if not b_first:
                b_first.append(time.perf_counter() - t0)
        b_started.clear()

    stream = client.completions.create(model=model_id, prompt=[5, 6, 7], max_tokens=gen_tokens, temperature=0,
                                       stream=True, extra_body={"ignore_eos": True})
    last = None
    count = 0
    b_thread = None
    for _ in stream:
        now = time.perf_counter()
        count += 1
        if last is not None and b_thread is not None:  # after B was sent: its prefill's stall is the longest
            gaps.append(now - last)
        last = now
        if count == 4:
            b_thread = threading.Thread(target=request_b)
            b_thread.start()
    if b_thread:
        b_thread.join()
    return (max(gaps) if gaps else float("nan")), (b_first[0] if b_first else float("nan"))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fathom", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--config", required=True, help="deployment TOML; [runtime] prefill_chunk is appended per run")
    ap.add_argument("--prefill-chunk", default="0,512")
    ap.add_argument("--long-prompt", type=int, default=2048)
    ap.add_argument("--gen-tokens", type=int, default=64)
    ap.add_argument("--vocab", type=int, default=256, help="token ids of the long prompt are drawn below this")
    args = ap.parse_args()
    print(f"| prefill_chunk | A's longest gap between tokens (s) | B's time to first token (s) |")
    print(f"|---:|---:|---:|")
    for chunk in [int(c) for c in args.prefill_chunk.split(",")]:
        with serving(args.fathom, args.model, args.config, f"prefill_chunk = {chunk}") as (client, model_id):
            gap, ttft = measure(client, model_id, args.vocab, args.long_prompt, args.gen_tokens)
            print(f"| {chunk} | {gap:.2f} | {ttft:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
