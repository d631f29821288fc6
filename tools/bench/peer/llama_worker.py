"""One llama-cpp-python measurement in its own process (so that its peak RSS is its own), run by
compare_llamacpp.py. Prints one JSON object.

  bench:  random prompt of --prompt-tokens ids, one prefill, then greedy decoding until
          --gen-tokens tokens exist (the first comes from the prefill), as `fathom bench` does.
  logits: the logits of every position of --ids after one prefill, saved to --out (.npy).
"""
import argparse
import json
import random
import sys
import time

import numpy as np
from llama_cpp import Llama, llama_cpp


def open_model(args, logits_all: bool, n_ctx: int) -> Llama:
    kv_type = {"f32": llama_cpp.GGML_TYPE_F32, "f16": llama_cpp.GGML_TYPE_F16}[args.kv_type]
    return Llama(model_path=args.gguf, n_ctx=n_ctx, n_batch=n_ctx, n_ubatch=n_ctx, n_threads=args.threads,
                 n_threads_batch=args.threads, n_gpu_layers=0, logits_all=logits_all, type_k=kv_type, type_v=kv_type,
                 flash_attn=args.flash_attn, use_mmap=not args.no_mmap, seed=args.seed, verbose=args.verbose)


def last_logits(llm: Llama) -> np.ndarray:
    """The logits of the last evaluated token, straight from llama.cpp (without logits_all,
    llama-cpp-python keeps no copy; its eval_logits would convert every row to Python lists)."""
    return np.ctypeslib.as_array(llm._ctx.get_logits_ith(-1), shape=(llm.n_vocab(),))


def bench(args) -> dict:
    n_ctx = args.prompt_tokens + args.gen_tokens + 8
    llm = open_model(args, logits_all=False, n_ctx=n_ctx)
    rng = random.Random(args.seed)
    prompt = [rng.randrange(llm.n_vocab()) for _ in range(args.prompt_tokens)]
    t0 = time.perf_counter()
    llm.eval(prompt)
    next_id = int(np.argmax(last_logits(llm)))
    t1 = time.perf_counter()
    for _ in range(args.gen_tokens - 1):
        llm.eval([next_id])
        next_id = int(np.argmax(last_logits(llm)))
    t2 = time.perf_counter()
    return {"prefill_seconds": t1 - t0, "decode_seconds": t2 - t1,
            "prefill_tokens_per_s": args.prompt_tokens / (t1 - t0),
            "decode_tokens_per_s": (args.gen_tokens - 1) / (t2 - t1) if args.gen_tokens > 1 else 0.0}


def logits(args) -> dict:
    ids = [int(x) for x in args.ids.split(",")]
    llm = open_model(args, logits_all=True, n_ctx=max(len(ids), 32))
    llm.eval(ids)
    rows = np.array(llm.scores[: len(ids)], dtype=np.float32)
    np.save(args.out, rows)
    return {"rows": len(ids), "out": args.out}


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["bench", "logits"])
    p.add_argument("--gguf", required=True)
    p.add_argument("--threads", type=int, required=True)
    p.add_argument("--kv-type", default="f32", choices=["f32", "f16"])
    p.add_argument("--prompt-tokens", type=int, default=128)
    p.add_argument("--gen-tokens", type=int, default=32)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--ids", default="")
    p.add_argument("--out", default="")
    p.add_argument("--flash-attn", action="store_true")
    p.add_argument("--no-mmap", action="store_true", help="read the GGUF into memory instead of mapping it")
    p.add_argument("--verbose", action="store_true")
    args = p.parse_args()
    result = bench(args) if args.mode == "bench" else logits(args)
    json.dump(result, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
