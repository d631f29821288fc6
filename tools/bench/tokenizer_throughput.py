#!/usr/bin/env python3
"""Tokenizer throughput on one thread: Fathom against Hugging Face `tokenizers`.

Both encode the same texts (one `text` per line of a JSONL corpus, by default
../shared/testdata/tokenizer/corpus.jsonl) with add_special_tokens=False, one
text at a time, on one thread. A sample is one pass over all texts; each
configuration runs one untimed warm-up pass and then --repeat timed passes, and
the median pass gives MB/s (input UTF-8 bytes / seconds / 1e6).

  warm  the word cache is kept between passes (a long-running server);
  cold  the cache is emptied before every pass: every word is merged by BPE once
        per pass (Fathom: `--bench-cold`; tokenizers: `model._clear_cache()`).

What is timed:
  Fathom      `fathom tokenize --bench-repeat N`: a C++ loop around
              Tokenizer::encode_into, timed inside the process, so process start,
              tokenizer load and output are excluded.
  tokenizers  `Tokenizer.encode(text)` in a Python loop (the per-call Python
              overhead is included, about a microsecond per text) and, separately,
              `encode_batch(texts)` on one Rayon thread. RAYON_NUM_THREADS=1 and
              TOKENIZERS_PARALLELISM=false are set before tokenizers is imported.
Both results are checked to be the same ids before anything is timed.

    pip install tokenizers
    python3 tools/bench/tokenizer_throughput.py --fathom build/bin/fathom [--repeat 20] [--markdown]
"""
import argparse
import json
import os
import pathlib
import platform
import statistics
import subprocess
import sys
import time

os.environ["RAYON_NUM_THREADS"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"
import tokenizers  # noqa: E402  (after the environment above, which it reads at import)

ROOT = pathlib.Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared"


def cpu_model():
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    return platform.processor() or "unknown"


def fathom_ids(args):
    out = subprocess.run([args.fathom, "tokenize", "--tokenizer", args.tokenizer, "--jsonl", args.corpus],
                         capture_output=True, text=True, check=True).stdout
    return [json.loads(line)["ids"] for line in out.splitlines()]


def bench_fathom(args, cold):
    command = [args.fathom, "tokenize", "--tokenizer", args.tokenizer, "--jsonl", args.corpus,
               "--bench-repeat", str(args.repeat)] + (["--bench-cold"] if cold else [])
    report = json.loads(subprocess.run(command, capture_output=True, text=True, check=True).stdout)
    return report["median_pass_seconds"]


def bench_hf(tok, texts, cold, batch, repeat):
    def one_pass():
        if cold:
            tok.model._clear_cache()
        start = time.perf_counter()
        if batch:
            tok.encode_batch(texts, add_special_tokens=False)
        else:
            for text in texts:
                tok.encode(text, add_special_tokens=False)
        return time.perf_counter() - start

    one_pass()  # warm-up, untimed
    return statistics.median(one_pass() for _ in range(repeat))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fathom", default=str(ROOT / "build/bin/fathom"), help="the built fathom binary")
    parser.add_argument("--tokenizer", default=str(SHARED / "models/deepseek-v3-tokenizer"))
    parser.add_argument("--corpus", default=str(SHARED / "testdata/tokenizer/corpus.jsonl"))
    parser.add_argument("--repeat", type=int, default=20, help="timed passes per configuration")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table (for docs/performance.md)")
    args = parser.parse_args()

    texts = [json.loads(line)["text"] for line in open(args.corpus, encoding="utf-8") if line.strip()]
    total_bytes = sum(len(t.encode("utf-8")) for t in texts)
    hf = tokenizers.Tokenizer.from_file(str(pathlib.Path(args.tokenizer) / "tokenizer.json"))

    expected = [e.ids for e in hf.encode_batch(texts, add_special_tokens=False)]
    if fathom_ids(args) != expected:
        sys.exit("Fathom and tokenizers disagree on the corpus ids; not timing")

    rows = []
    for cache in ("warm", "cold"):
        cold = cache == "cold"
        rows.append(("Fathom", "encode per text (C++ loop)", cache, bench_fathom(args, cold)))
        rows.append((f"tokenizers {tokenizers.__version__}", "encode per text (Python loop)", cache,
                     bench_hf(hf, texts, cold, batch=False, repeat=args.repeat)))
        rows.append((f"tokenizers {tokenizers.__version__}", "encode_batch, 1 Rayon thread", cache,
                     bench_hf(hf, texts, cold, batch=True, repeat=args.repeat)))

    print(f"machine: {cpu_model()}, {os.cpu_count()} logical CPUs; one thread")
    print(f"corpus: {args.corpus} ({len(texts)} texts, {total_bytes} bytes); "
          f"median of {args.repeat} passes after 1 warm-up pass; ids identical: yes")
    best_hf = {c: min(s for name, _, cache, s in rows if cache == c and name != "Fathom") for c in ("warm", "cold")}
    if args.markdown:
        print("\n| implementation | mode | word cache | MB/s | Fathom speed-up |")
        print("|---|---|---|---:|---:|")
    else:
        print(f"\n{'implementation':<22} {'mode':<32} {'cache':<6} {'MB/s':>8} {'Fathom speed-up':>16}")
    for name, mode, cache, seconds in rows:
        mb_per_s = total_bytes / seconds / 1e6
        fathom_seconds = next(s for n, _, c, s in rows if n == "Fathom" and c == cache)
        speedup = "" if name == "Fathom" else f"{seconds / fathom_seconds:.1f}x"
        if args.markdown:
            print(f"| {name} | {mode} | {cache} | {mb_per_s:.2f} | {speedup} |")
        else:
            print(f"{name:<22} {mode:<32} {cache:<6} {mb_per_s:>8.2f} {speedup:>16}")
    print()
    for cache in ("warm", "cold"):
        fathom_seconds = next(s for n, _, c, s in rows if n == "Fathom" and c == cache)
        print(f"{cache} cache: Fathom is {best_hf[cache] / fathom_seconds:.1f}x the fastest tokenizers mode")


if __name__ == "__main__":
    main()
