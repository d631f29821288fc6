#!/usr/bin/env python3
"""Serving under load: clients keep C streamed completion requests in flight against an
OpenAI-compatible server (closed loop) and measure what a user of the server sees — requests
and output tokens per second, time to first token (TTFT), time between tokens (ITL) and the
whole request's latency — at each concurrency C. Standard library only, so that the same
workload runs against `fathom serve` (started here) and against a peer's server (--url).

    # Fathom: started with this model and deployment (runtime.max_batch sets how many run at once)
    python3 tools/bench/serve_load.py --fathom build/bin/fathom --model-dir DIR --config TOML --concurrency 1,2,4,8
    # any OpenAI-compatible server already running (llama.cpp's, vLLM, ...)
    python3 tools/bench/serve_load.py --url http://127.0.0.1:8000 --concurrency 1,2,4,8

Every request is a /v1/completions stream of a random-words prompt (seeded: the same prompts
for every server) with greedy sampling, max_tokens and `ignore_eos` (servers that do not know
it may stop early: the output tokens counted are those the server reports in its usage, or the
chunks it sent).
"""
from __future__ import annotations

import argparse
import http.client
import json
import random
import statistics
import sys
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

WORDS = ("the of and to in is was for on that with as by at from his an were are which this be or has had not but "
         "first one their its new after who they have her she two been other when there all during into school time "
         "may years more most only over city some world would where later up such used many can state about national "
         "out known university united then made").split()


@dataclass
class Result:
    start: float
    token_times: list[float] = field(default_factory=list)  # arrival of each chunk with text
    end: float = 0.0
    output_tokens: int = 0
    error: str = ""


def prompt_text(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words))


def stream_one(base: urllib.parse.ParseResult, model: str, prompt: str, max_tokens: int) -> Result:
    body = json.dumps({"model": model, "prompt": prompt, "max_tokens": max_tokens, "temperature": 0, "stream": True,
                       "stream_options": {"include_usage": True}, "ignore_eos": True})
    result = Result(start=time.perf_counter())
    conn = http.client.HTTPConnection(base.hostname, base.port, timeout=600)
    try:
        conn.request("POST", base.path.rstrip("/") + "/v1/completions", body, {"Content-Type": "application/json"})
        response = conn.getresponse()
        if response.status != 200:
            result.error = f"HTTP {response.status}: {response.read()[:200]!r}"
            return result
        chunks = 0
        for raw in response:
            line = raw.decode("utf-8", "replace").strip()
            if not line.startswith("data:"):
                continue
            data = line[5:].strip()
            if data == "[DONE]":
                break
            event = json.loads(data)
            if event.get("usage"):
                result.output_tokens = event["usage"].get("completion_tokens", 0)
            for choice in event.get("choices", []):
                if choice.get("text"):
                    result.token_times.append(time.perf_counter())
                    chunks += 1
        result.end = time.perf_counter()
        if not result.output_tokens:
            result.output_tokens = chunks
    except (OSError, http.client.HTTPException, json.JSONDecodeError) as e:
        result.error = repr(e)
    finally:
        conn.close()
    return result


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def run_level(base, model: str, prompts: list[str], concurrency: int, max_tokens: int) -> dict:
    results: list[Result] = []
    lock = threading.Lock()
    queue = list(prompts)

    def client() -> None:
        while True:
            with lock:
                if not queue:
                    return
                prompt = queue.pop()
            r = stream_one(base, model, prompt, max_tokens)
            with lock:
                results.append(r)

    began = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    duration = time.perf_counter() - began
    failed = [r.error for r in results if r.error]
    ok = [r for r in results if not r.error and r.token_times]
    ttft = [r.token_times[0] - r.start for r in ok]
    gaps = [b - a for r in ok for a, b in zip(r.token_times, r.token_times[1:])]
    tokens = sum(r.output_tokens for r in ok)
    return {
        "concurrency": concurrency, "requests": len(ok), "failed": len(failed), "first_error": failed[0] if failed else "",
        "duration_s": duration, "requests_per_s": len(ok) / duration, "output_tokens_per_s": tokens / duration,
        "output_tokens": tokens,
        "ttft_ms_p50": 1e3 * percentile(ttft, 0.5), "ttft_ms_p90": 1e3 * percentile(ttft, 0.9),
        "itl_ms_p50": 1e3 * percentile(gaps, 0.5), "itl_ms_p90": 1e3 * percentile(gaps, 0.9),
        "latency_s_p50": percentile([r.end - r.start for r in ok], 0.5),
    }


def served_model(base) -> str:
    conn = http.client.HTTPConnection(base.hostname, base.port, timeout=60)
    conn.request("GET", base.path.rstrip("/") + "/v1/models")
    models = json.loads(conn.getresponse().read())
    conn.close()
    return models["data"][0]["id"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="an OpenAI-compatible server already running")
    parser.add_argument("--fathom", help="the fathom executable: start `fathom serve` with --model-dir and --config")
    parser.add_argument("--model-dir")
    parser.add_argument("--config")
    parser.add_argument("--concurrency", default="1,2,4,8", help="comma-separated levels")
    parser.add_argument("--requests", type=int, default=0, help="requests per level (default: 2 per client, at least 8)")
    parser.add_argument("--prompt-words", type=int, default=100)
    parser.add_argument("--max-tokens", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--warmup", type=int, default=1, help="requests sent alone before measuring")
    parser.add_argument("--json", action="store_true", help="one JSON object per level instead of the table")
    args = parser.parse_args()

    proc = None
    if args.fathom:
        if not (args.model_dir and args.config):
            parser.error("--fathom needs --model-dir and --config")
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from fathom_server import start_server  # noqa: E402

        proc, port = start_server(args.fathom, args.model_dir, args.config)
        url = f"http://127.0.0.1:{port}"
    elif args.url:
        url = args.url
    else:
        parser.error("give --url or --fathom")
    base = urllib.parse.urlparse(url)
    try:
        model = served_model(base)
        rng = random.Random(args.seed)
        for _ in range(args.warmup):
            stream_one(base, model, prompt_text(rng, args.prompt_words), args.max_tokens)
        rows = []
        for c in (int(x) for x in args.concurrency.split(",")):
            n = args.requests or max(8, 2 * c)
            prompts = [prompt_text(rng, args.prompt_words) for _ in range(n)]
            row = run_level(base, model, prompts, c, args.max_tokens)
            rows.append(row)
            if args.json:
                print(json.dumps(row), flush=True)
        if not args.json:
            print(f"{'C':>3} {'req':>4} {'req/s':>6} {'out tok/s':>9} {'TTFT p50':>9} {'TTFT p90':>9} "
                  f"{'ITL p50':>8} {'ITL p90':>8} {'latency p50':>11}")
            for r in rows:
                print(f"{r['concurrency']:>3} {r['requests']:>4} {r['requests_per_s']:>6.2f} {r['output_tokens_per_s']:>9.1f} "
                      f"{r['ttft_ms_p50']:>7.0f}ms {r['ttft_ms_p90']:>7.0f}ms {r['itl_ms_p50']:>6.1f}ms {r['itl_ms_p90']:>6.1f}ms "
                      f"{r['latency_s_p50']:>10.2f}s" + (f"  ({r['failed']} failed: {r['first_error']})" if r['failed'] else ""))
    finally:
        if proc:
            proc.terminate()
            proc.wait(timeout=60)
    return 0


if __name__ == "__main__":
    sys.exit(main())
