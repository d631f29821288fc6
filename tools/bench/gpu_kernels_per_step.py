#!/usr/bin/env python3
"""Counts the GPU kernels one decode step launches, by kernel, on the GPU simulator (and its
asynchronous copies and memsets).

A batch-1 decode step of a small MoE model is bound by kernel launches as much as by memory:
even replayed from a CUDA graph, every kernel costs a few microseconds before the next one can
start. This script measures the number that sets that cost without a GPU: it runs `fathom bench`
on the simulated CUDA plugin (tests/gpusim, built into build/gpusim) with FATHOM_GPUSIM_TRACE=1,
once generating G and once G + 1 tokens, and prints the difference, the launches of one decode
step. FATHOM_GPUSIM_SMS sets the multiprocessor count the kernels size their grids for (132, an
H200's, by default), so the launches are those the H200 would get. Beside the launches it sums
the blocks they start: a block that finds no work and returns still has to be scheduled.

  python3 tools/bench/gpu_kernels_per_step.py --fathom build/bin/fathom --gpusim build/gpusim
      [--model DIR | --layers 2] [--batch 1] [--sms 132]

Without --model it writes a V2-Lite-shaped FP8 model with --layers layers (make-tiny). Speed on
the simulator means nothing; only the counts do.
"""
import argparse
import collections
import os
import re
import subprocess
import sys
import tempfile

TRACE_LINE = re.compile(r"^gpusim: (.+?) grid \((\d+),(\d+),(\d+)\)")
ASYNC_LINE = re.compile(r"^gpusim: (cudaMemsetAsync|cudaMemcpyAsync|cudaMemcpy2DAsync) ")


def kernel_counts(fathom, model, config, batch, gen_tokens, sms):
    env = dict(os.environ, FATHOM_GPUSIM_TRACE="1", FATHOM_GPUSIM_SMS=str(sms))
    cmd = [fathom, "bench", "--model", model, "--config", config, "--prompt-tokens", "4",
           "--gen-tokens", str(gen_tokens), "--batch", str(batch), "--seed", "1"]
    run = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if run.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({run.returncode}):\n{run.stderr[-3000:]}")
    counts, blocks = collections.Counter(), collections.Counter()
    for line in run.stderr.splitlines():
        m = TRACE_LINE.match(line)
        if m:
            # gemv_kernel<F, TM, kDual>: the template's spelling, not its arguments.
            name = re.sub(r"\s+", " ", m.group(1))
            counts[name] += 1
            blocks[name] += int(m.group(2)) * int(m.group(3)) * int(m.group(4))
        m = ASYNC_LINE.match(line)
        if m:
            counts[f"({m.group(1)})"] += 1
    return counts, blocks


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fathom", default="build/bin/fathom")
    ap.add_argument("--gpusim", default="build/gpusim", help="folder of libfathom-backend-gpusim32.so")
    ap.add_argument("--model", help="model directory (default: a V2-Lite-shaped FP8 model, written now)")
    ap.add_argument("--layers", type=int, default=2, help="layers of the written model")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--sms", type=int, default=132, help="multiprocessors the simulated device reports")
    ap.add_argument("--backend", default="gpusim32", choices=["gpusim32", "gpusim64"])
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        model = args.model
        if not model:
            model = os.path.join(tmp, "model")
            subprocess.run([args.fathom, "make-tiny", "--out", model, "--preset", "v2-lite-shape", "--fp8",
                            "--layers", str(args.layers)], check=True, capture_output=True)
        config = os.path.join(tmp, "gpusim.toml")
        with open(config, "w") as f:
            f.write(f'[runtime]\nbackends = ["{args.backend}"]\nplugin_path = ["{os.path.abspath(args.gpusim)}"]\n')
        before, blocks_before = kernel_counts(args.fathom, model, config, args.batch, 2, args.sms)
        after, blocks_after = kernel_counts(args.fathom, model, config, args.batch, 3, args.sms)

    step, step_blocks = after - before, blocks_after - blocks_before
    if sum((before - after).values()):
        sys.exit("the longer run launched fewer of some kernel: the runs are not comparable")
    print(f"kernels in one decode step (batch {args.batch}, {args.sms} multiprocessors):\n")
    print("| kernel | launches | blocks |\n|---|---:|---:|")
    for name, n in sorted(step.items(), key=lambda kv: (-kv[1], kv[0])):
        print(f"| `{name}` | {n} | {step_blocks[name] if not name.startswith('(') else ''} |")
    kernels = sum(n for name, n in step.items() if not name.startswith("("))
    print(f"| **kernels** | **{kernels}** | **{sum(step_blocks.values())}** |")
    print(f"| copies and memsets (in parentheses above; host copies are the step's inputs and logits) | "
          f"{sum(step.values()) - kernels} | |")


if __name__ == "__main__":
    main()
