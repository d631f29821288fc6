#!/usr/bin/env python3
"""Peer benchmark: Fathom's cpu backend against llama.cpp (through llama-cpp-python) on the same
DeepSeek-V2-Lite-shaped checkpoint, threads and weight precision. Not part of the tests or CI.

Setup (once; builds llama.cpp from source, several minutes):
    python3 -m venv .venv-bench
    .venv-bench/bin/pip install -r tools/bench/requirements-peers.txt
    cmake --build build-cpu --target fathom
Run:
    .venv-bench/bin/python tools/bench/compare_llamacpp.py --fathom build-cpu/bin/fathom

What it does: `fathom make-tiny --preset v2-lite-shape --layers N` with the DeepSeek-V3 tokenizer
(bf16 weights), the same weights as a `deepseek2` GGUF (tools/reference/hf_to_gguf.py), then per thread
count: the STREAM-like bandwidth (peer/stream_copy.c), `fathom bench` and the llama-cpp-python
equivalent (peer/llama_worker.py) alternately, each run in its own process (peak RSS from wait4),
medians over --repeats; the logits of the first positions of one prompt from both (and from
Fathom's reference backend with --oracle); a markdown table at the end.

With --quant int8|int4, Fathom quantises the checkpoint at load ([backend.cpu] weights, with
matmul_precision "int8" unless told otherwise) and llama.cpp runs the bf16 GGUF quantised to
Q8_0/Q4_0 (same layout; every tensor, `pure`); the logits are compared with that GGUF too.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "peer"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "reference"))
import numpy as np  # noqa: E402

import roofline  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
WORKER = REPO / "tools" / "bench" / "peer" / "llama_worker.py"


def run_measured(cmd: list[str], env: dict | None = None) -> tuple[str, int]:
    """Runs cmd in its own process; returns its stdout and its peak RSS in bytes."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{err.read().decode()[-4000:]}")
        return out.read().decode(), usage.ru_maxrss * 1024


def machine_load() -> str:
    load = os.getloadavg()
    busy = subprocess.run(["pgrep", "-fa", "cc1plus|hipcc|clang|nvcc|ninja"], capture_output=True, text=True).stdout
    busy = [line for line in busy.splitlines() if "pgrep" not in line]
    return f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; compilers running: {len(busy)}"


def wait_for_quiet(max_load: float, timeout_s: float) -> str:
    deadline = time.time() + timeout_s
    while os.getloadavg()[0] > max_load and time.time() < deadline:
        print(f"  waiting for a quiet machine ({machine_load()})", file=sys.stderr)
        time.sleep(20)
    return machine_load()


def prewarm(*paths: Path) -> None:
    """Reads the weight files once, so that both engines load from the page cache, not the disk."""
    for path in paths:
        with open(path, "rb", buffering=0) as f:
            while f.read(64 << 20):
                pass


def fathom_config(path: Path, threads: int, backends: list[str], max_seq_len: int, weight_memory: str = "copy",
                  matmul_precision: str = "f32", weights: str = "") -> Path:
    names = ", ".join(f'"{b}"' for b in backends)
    path.write_text(f'[runtime]\nbackends = [{names}]\nlog_level = "warn"\nmax_batch = 1\nmax_seq_len = {max_seq_len}\n\n'
                    f'[backend.cpu]\nthreads = {threads}\nweight_memory = "{weight_memory}"\n'
                    f'matmul_precision = "{matmul_precision}"\n' + (f'weights = "{weights}"\n' if weights else ""))
    return path


def prepare_model(args, work: Path) -> Path:
    model = work / f"v2lite-L{args.layers}"
    if not (model / "model.safetensors").exists():
        print(f"making {model}", file=sys.stderr)
        subprocess.run([args.fathom, "make-tiny", "--out", str(model), "--preset", "v2-lite-shape", "--layers", str(args.layers),
                        "--tokenizer", args.tokenizer, "--seed", "0"], check=True)
    return model


def prepare_gguf(model: Path, dtype: str) -> Path:
    gguf_path = model.parent / f"{model.name}-{dtype}.gguf"
    if not gguf_path.exists():
        print(f"writing {gguf_path}", file=sys.stderr)
        from hf_to_gguf import convert
        tmp = gguf_path.with_suffix(".part")
        # Shortened V2-Lite shapes need q_lora_rank written as 0 for llama.cpp (see hf_to_gguf.py).
        convert(model, tmp, dtype, tokenizer_dir=model, zero_q_lora_rank=True)
        tmp.rename(gguf_path)
    return gguf_path


# --quant: Fathom's [backend.cpu] weights, and the llama.cpp type with the same layout (groups of 32
# weights with an f16 scale each: backends/cpu/isa/quant.h), quantised from the bf16 GGUF with
# `pure` set, so that every tensor gets it (llama.cpp otherwise keeps some in other types).
QUANT_TYPES = {"int8": ("Q8_0", 8.5 / 8), "int4": ("Q4_0", 4.5 / 8)}


def prepare_quantized_gguf(model: Path, llama_type: str) -> Path:
    out = model.parent / f"{model.name}-{llama_type}.gguf"
    if not out.exists():
        import ctypes

        import llama_cpp
        print(f"writing {out}", file=sys.stderr)
        params = llama_cpp.llama_model_quantize_default_params()
        params.ftype = {"Q8_0": llama_cpp.LLAMA_FTYPE_MOSTLY_Q8_0, "Q4_0": llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_0}[llama_type]
        params.pure = True
        tmp = out.with_suffix(".part")
        rc = llama_cpp.llama_model_quantize(str(prepare_gguf(model, "bf16")).encode(), str(tmp).encode(), ctypes.byref(params))
        if rc != 0:
            raise SystemExit(f"llama_model_quantize failed ({rc}) for {llama_type}")
        tmp.rename(out)
    return out


def gguf_for(model: Path, dtype: str) -> Path:
    return prepare_quantized_gguf(model, dtype) if dtype in ("Q8_0", "Q4_0") else prepare_gguf(model, dtype)


def bench_fathom(args, model: Path, config: Path) -> dict:
    out, rss = run_measured([args.fathom, "bench", "--model", str(model), "--config", str(config), "--json",
                             "--prompt-tokens", str(args.prompt_tokens), "--gen-tokens", str(args.gen_tokens)])
    r = json.loads(out)
    r["peak_rss_bytes"] = rss
    return r


def llama_options(args) -> list[str]:
    return (["--flash-attn"] if args.llama_flash_attn == "on" else []) + (["--no-mmap"] if args.llama_mmap == "off" else [])


def bench_llama(args, gguf_path: Path, threads: int) -> dict:
    out, rss = run_measured([sys.executable, str(WORKER), "bench", "--gguf", str(gguf_path), "--threads", str(threads),
                             "--kv-type", args.kv_type, "--prompt-tokens", str(args.prompt_tokens),
                             "--gen-tokens", str(args.gen_tokens)] + llama_options(args))
    r = json.loads(out.strip().splitlines()[-1])
    r["peak_rss_bytes"] = rss
    return r


def median_of(runs: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def fathom_logits(args, model: Path, config: Path, ids: list[int]) -> np.ndarray:
    out, _ = run_measured([args.fathom, "logits", "--model", str(model), "--config", str(config), "--ids", ",".join(map(str, ids))])
    return np.array(json.loads(out)["logits"], dtype=np.float32)


def llama_logits(args, gguf_path: Path, threads: int, ids: list[int], work: Path) -> np.ndarray:
    path = work / "llama_logits.npy"
    run_measured([sys.executable, str(WORKER), "logits", "--gguf", str(gguf_path), "--threads", str(threads),
                  "--kv-type", args.kv_type, "--ids", ",".join(map(str, ids)), "--out", str(path)] + llama_options(args))
    return np.load(path)


def agreement(a: np.ndarray, b: np.ndarray) -> list[dict]:
    rows = []
    for p in range(a.shape[0]):
        scale = float(np.max(np.abs(b[p])))
        top_a, top_b = np.argsort(-a[p])[:5], np.argsort(-b[p])[:5]
        rows.append({"position": p, "max_abs_diff": float(np.max(np.abs(a[p] - b[p]))), "rel": float(np.max(np.abs(a[p] - b[p]))) / scale,
                     "argmax_equal": bool(top_a[0] == top_b[0]), "top5_overlap": len(set(top_a) & set(top_b))})
    return rows


def print_agreement(title: str, rows: list[dict]) -> None:
    print(f"\n{title}\n\n| position | max abs diff | / max abs logit | argmax equal | top-5 overlap |\n|---:|---:|---:|---|---:|")
    for r in rows:
        print(f"| {r['position']} | {r['max_abs_diff']:.4f} | {r['rel']:.2e} | {'yes' if r['argmax_equal'] else 'no'} | {r['top5_overlap']}/5 |")


def decode_ops_table(run: dict) -> None:
    """Where Fathom's decode time goes: total per op minus its prefill share."""
    decode_s = run["decode_seconds"]
    steps = run["gen_tokens"] - 1
    print(f"\nFathom decode, per op (ms per decoded token; {steps} steps, {1000 * decode_s / steps:.1f} ms per token):\n")
    print("| op | backend | ms/token | share |\n|---|---|---:|---:|")
    ops = [(o["op"], o["backend"], (o["total_ms"] - o.get("prefill_ms", 0.0)) / steps) for o in run["ops"]]
    for op, backend, ms in sorted(ops, key=lambda x: -x[2]):
        print(f"| {op} | {backend} | {ms:.2f} | {100 * ms / (1000 * decode_s / steps):.0f}% |")


def measure_speed(args, work: Path, model: Path, gguf_path: Path, threads: int, max_seq: int) -> tuple:
    """Both engines --repeats times, alternating, and the bandwidth before each repeat: on a shared
    VM the bandwidth moves as much as the engines do."""
    config = fathom_config(work / f"cpu{threads}.toml", threads, ["cpu", "reference"], max_seq, args.fathom_weight_memory,
                           args.fathom_matmul_precision, args.quant)
    fathom_runs, llama_runs, bws = [], [], []
    for i in range(args.repeats):
        print(f"threads {threads}, repeat {i + 1}/{args.repeats}", file=sys.stderr)
        bws.append(roofline.measure_bandwidth(threads, work, repeats=3))
        fathom_runs.append(bench_fathom(args, model, config))
        llama_runs.append(bench_llama(args, gguf_path, threads))
    bw = {key: median_of(bws, key) for key in ("copy_gbs", "read_gbs")}
    bw["all_copy_gbs"] = [b["copy_gbs"] for b in bws]
    return threads, bw, fathom_runs, llama_runs


def print_speed_table(results: list[tuple], bytes_per_token: float) -> None:
    print("| threads | engine | prefill tok/s | decode tok/s | peak RSS | decode GB/s | % of roofline |\n|---:|---|---:|---:|---:|---:|---:|")
    for threads, bw, fruns, lruns in results:
        roof = bw["copy_gbs"] * 1e9 / bytes_per_token
        for name, runs in (("Fathom", fruns), ("llama.cpp", lruns)):
            dec = median_of(runs, "decode_tokens_per_s")
            print(f"| {threads} | {name} | {median_of(runs, 'prefill_tokens_per_s'):.1f} | {dec:.2f} | "
                  f"{median_of(runs, 'peak_rss_bytes') / 2**30:.2f} GiB | {dec * bytes_per_token / 1e9:.2f} | {100 * dec / roof:.0f}% |")
        print(f"| {threads} | roofline | | {roof:.2f} | | copy {bw['copy_gbs']:.2f} (read {bw['read_gbs']:.2f}) | 100% |")
    for threads, bw, fruns, lruns in results:
        print(f"\nthreads {threads}: all runs, decode tok/s: Fathom "
              + ", ".join(f"{r['decode_tokens_per_s']:.2f}" for r in fruns)
              + "; llama.cpp " + ", ".join(f"{r['decode_tokens_per_s']:.2f}" for r in lruns)
              + "; copy GB/s " + ", ".join(f"{g:.2f}" for g in bw["all_copy_gbs"]))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--fathom", default=str(REPO / "build-cpu" / "bin" / "fathom"))
    p.add_argument("--tokenizer", default=str(REPO.parent / "shared" / "models" / "deepseek-v3-tokenizer"))
    p.add_argument("--work-dir", default="/tmp/fathom-peer-bench", help="models, GGUF and scratch (several GB)")
    p.add_argument("--layers", type=int, default=4, help="decoder layers (1 dense + N-1 MoE); 4 gives 4.7 GB of bf16")
    p.add_argument("--dtype", choices=["bf16", "f16"], default="bf16", help="llama.cpp's weight type (Fathom reads the bf16 checkpoint)")
    p.add_argument("--kv-type", choices=["f32", "f16"], default="f32", help="llama.cpp's KV cache (Fathom's is f32)")
    p.add_argument("--llama-flash-attn", choices=["on", "off"], default="on",
                   help="llama.cpp's flash attention (its CLI enables it on CPU by default; llama-cpp-python does not)")
    p.add_argument("--llama-mmap", choices=["on", "off"], default="on",
                   help="llama.cpp maps the GGUF (its default) or, with off, reads it into memory (--no-mmap)")
    p.add_argument("--fathom-weight-memory", choices=["copy", "mapped"], default="copy",
                   help="Fathom's [backend.cpu] weight_memory (its default: copy)")
    p.add_argument("--fathom-matmul-precision", choices=["f32", "bf16", "int8"], default=None,
                   help="Fathom's [backend.cpu] matmul_precision (default: f32, int8 with --quant); bf16 rounds activations "
                        "to bf16 for oneDNN's bf16 kernels where the CPU has them, as llama.cpp does with bf16 weights; "
                        "int8 quantises them per group of 32 for int8/int4 weights, as llama.cpp does with Q8_0/Q4_0")
    p.add_argument("--quant", choices=["int8", "int4"], default="",
                   help="Fathom quantises the bf16 checkpoint at load ([backend.cpu] weights), llama.cpp runs the bf16 "
                        "GGUF quantised to the same layout (Q8_0 / Q4_0, every tensor)")
    p.add_argument("--threads", default="2", help="comma-separated thread counts")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--prompt-tokens", type=int, default=128)
    p.add_argument("--gen-tokens", type=int, default=33)
    p.add_argument("--logit-positions", type=int, default=8)
    p.add_argument("--logit-dtypes", default="bf16,f16",
                   help="llama.cpp weight types whose logits are compared (ggml rounds activations to the weight type: "
                        "f16 keeps 3 more bits than bf16, which tells rounding from bugs)")
    p.add_argument("--oracle", action="store_true", help="also take the logits from Fathom's reference backend (slow)")
    p.add_argument("--max-load", type=float, default=1.0, help="wait (up to 10 min) for a 1-minute load average below this")
    args = p.parse_args()
    if args.fathom_matmul_precision is None:
        args.fathom_matmul_precision = "int8" if args.quant else "f32"

    work = Path(args.work_dir)
    work.mkdir(parents=True, exist_ok=True)
    model = prepare_model(args, work)
    llama_type, quant_bytes = QUANT_TYPES[args.quant] if args.quant else (args.dtype, 2)
    gguf_path = gguf_for(model, llama_type)
    cfg = json.loads((model / "config.json").read_text())
    max_seq = args.prompt_tokens + args.gen_tokens + 16
    # Fathom keeps kv_b (MLA's own weights), the router and the embedding in bf16: ~3 % more bytes
    # than this at 4 layers with int4.
    weight_bytes = quant_bytes
    mean_context = args.prompt_tokens + args.gen_tokens / 2
    # Fathom's cache is f32; llama.cpp's f16 option would change the total by 0.05 %.
    need = roofline.bytes_per_decoded_token(cfg, weight_bytes, kv_bytes=4, mean_context=mean_context)

    prewarm(model / "model.safetensors", gguf_path)
    load_before = wait_for_quiet(args.max_load, 600)
    results = [measure_speed(args, work, model, gguf_path, threads, max_seq) for threads in map(int, args.threads.split(","))]
    load_after = machine_load()

    ids = list(range(1000, 1000 + 97 * args.logit_positions, 97))  # fixed ordinary-token ids, no BOS
    t0 = results[0][0]
    f_logits = fathom_logits(args, model, fathom_config(work / "cpu_logits.toml", t0, ["cpu", "reference"], max_seq,
                                                        matmul_precision=args.fathom_matmul_precision, weights=args.quant), ids)
    logit_dtypes = ([llama_type] if args.quant else []) + args.logit_dtypes.split(",")
    l_logits = {dtype: llama_logits(args, gguf_for(model, dtype), t0, ids, work) for dtype in logit_dtypes}

    print(f"\n# Fathom vs llama.cpp (llama-cpp-python), {model.name}: {cfg['num_hidden_layers']} layers "
          f"({cfg['first_k_dense_replace']} dense), {llama_type} weights, KV cache f32 (Fathom) / {args.kv_type} (llama.cpp), "
          f"llama.cpp flash attention {args.llama_flash_attn}, mmap {args.llama_mmap}; "
          f"Fathom weight_memory {args.fathom_weight_memory}, matmul_precision {args.fathom_matmul_precision}"
          + (f", weights {args.quant}" if args.quant else ""))
    print(f"prompt {args.prompt_tokens} tokens, {args.gen_tokens} generated (decode = the last {args.gen_tokens - 1}), "
          f"median of {args.repeats} runs, each engine in its own process")
    print(f"machine: before: {load_before}; after: {load_after}")
    print(f"\nbytes read per decoded token: {need['total'] / 1e9:.3f} GB ("
          + ", ".join(f"{k} {v / 1e6:.1f} MB" for k, v in need.items() if k != "total") + ")\n")
    print_speed_table(results, need["total"])

    print(f"\nLogits of one prefill of ids {ids} (no BOS); the reference of each comparison is the second engine named.")
    for dtype, logits in l_logits.items():
        print_agreement(f"Fathom (cpu, {args.quant or 'bf16'} weights, {args.fathom_matmul_precision} activations) vs llama.cpp ({dtype} weights):", agreement(f_logits, logits))
    if args.oracle:
        r_logits = fathom_logits(args, model, fathom_config(work / "ref.toml", t0, ["reference"], max_seq), ids)
        print_agreement("Fathom (cpu) vs Fathom (reference backend):", agreement(f_logits, r_logits))
        for dtype, logits in l_logits.items():
            print_agreement(f"llama.cpp ({dtype}) vs Fathom (reference backend):", agreement(logits, r_logits))
    fruns = results[0][2]
    decode_ops_table(sorted(fruns, key=lambda r: r["decode_tokens_per_s"])[len(fruns) // 2])
    return 0


if __name__ == "__main__":
    sys.exit(main())
