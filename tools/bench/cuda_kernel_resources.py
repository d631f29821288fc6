#!/usr/bin/env python3
"""Registers, stack frame, spills and static shared memory of every CUDA backend kernel, as
ptxas reports them for one target (sm_90a by default), without a GPU.

A weight-streaming kernel is fast when enough bytes are in flight, and that depends on how many
of its blocks fit on a multiprocessor (65536 registers, 256 threads a block: 2 blocks above 128
registers a thread, 3 up to 85) and on registers not spilling to local memory. This prints what
the compiler made of each kernel, so that a change's effect on them shows before a GPU session.

  python3 tools/bench/cuda_kernel_resources.py [--arch 90a] [--nvcc /usr/local/cuda/bin/nvcc]
      [--filter gemv]
"""
import argparse
import pathlib
import re
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[2]
KERNELS = ROOT / "backends" / "cuda" / "kernels"


def demangle(names):
    out = subprocess.run(["c++filt"], input="\n".join(names), capture_output=True, text=True).stdout.splitlines()
    return [re.sub(r"fathom::gpu::(gemv_detail::|\(anonymous namespace\)::)?", "", n) for n in out]


def resources(nvcc, arch, source):
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [nvcc, "-I", str(ROOT / "backends" / "cuda"), "-I", str(ROOT / "plugins" / "include"), "-O3", "-DNDEBUG",
               f"--generate-code=arch=compute_{arch},code=sm_{arch}", "-std=c++20", "-x", "cu", "-c", str(source),
               "-o", f"{tmp}/k.o", "--resource-usage"]
        run = subprocess.run(cmd, capture_output=True, text=True)
    if run.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{run.stderr[-3000:]}")
    rows, name, frame = [], None, None
    for line in run.stderr.splitlines():
        if m := re.search(r"Function properties for (\S+)", line):
            name = m.group(1)
        elif (m := re.search(r"(\d+) bytes stack frame, (\d+) bytes spill stores", line)) and name:
            frame = (int(m.group(1)), int(m.group(2)))
        elif (m := re.search(r"Used (\d+) registers", line)) and name and frame:
            smem = re.search(r"(\d+) bytes smem", line)
            rows.append((name, int(m.group(1)), frame[0], frame[1], int(smem.group(1)) if smem else 0))
            name = frame = None
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--arch", default="90a")
    ap.add_argument("--nvcc", default="/usr/local/cuda/bin/nvcc")
    ap.add_argument("--filter", default="", help="only sources whose name contains this")
    args = ap.parse_args()
    print("| source | kernel | registers | blocks of 256 threads per SM, by registers | stack frame (B) | spill stores (B) | static smem (B) |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for source in sorted(KERNELS.glob("*.cu")):
        if args.filter not in source.name:
            continue
        rows = [r for r in resources(args.nvcc, args.arch, source) if not r[0].startswith("__internal")]
        for (name, regs, frame, spill, smem), pretty in zip(rows, demangle([r[0] for r in rows])):
            # Registers are allocated per warp in units of 256 (8 a thread); at most 2048 threads.
            per_thread = -(-regs // 8) * 8
            blocks = min(65536 // (per_thread * 256), 2048 // 256)
            print(f"| {source.name} | `{pretty[:90]}` | {regs} | {blocks} | {frame} | {spill} | {smem} |")


if __name__ == "__main__":
    main()
