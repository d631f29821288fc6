#!/usr/bin/env python3
"""Golden logits for the cpu backend's quantised weights (`[backend.cpu] weights = "int8" | "int4"`).

For each fixture under tests/fixtures, the weights Fathom quantises at load are quantised here too,
by this file's own implementation of the format documented in backends/cpu/isa/quant.h, and
dequantised; transformers then runs the model with those weights in fp32. The cpu backend with
`weights = "int8"` (or "int4") and f32 activations computes the same products up to f32 rounding,
so it must match these logits as closely as it matches golden.json with the original weights: this
checks which matrices were quantised, the quantiser's rounding, the kernels' layout and the
graph's use of them, all at once.

What Fathom quantises (backends/cpu/matmul/matrix.cpp): every weight of a matrix product whose row
length (in_features) is a multiple of 32 -- the attention projections, the dense and expert MLPs
and lm_head; not kv_b_proj (MLA's attention reads it), the router, the embedding or the norms.
The format: groups of 32 along each row; q8: d = f16(max|w| / 127), q = clip(rint(w / d), ±127);
q4: m = the first weight of largest |w|, d = f16(m / -8), q = clip(rint(w / d), -8, 7); the
dequantised weight is q · d (d = 0: zero). Divisions in f32, rint ties to even, as the C++ does.

    /tmp/fx-venv/bin/python tools/reference/make_quantized_golden.py     # writes golden-int{8,4}.json

Needs the packages of requirements.txt (torch, transformers) and reads make_fixtures.py.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from collections import OrderedDict

import numpy as np
import torch
from safetensors.torch import load_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_fixtures as mf  # noqa: E402

FIXTURES = ["deepseek-v3-tiny", "deepseek-v2-lite-tiny", "deepseek-v3-tiny-fp8"]
GROUP = 32


def is_quantised(name: str, t: torch.Tensor) -> bool:
    if t.dim() != 2 or t.shape[1] % GROUP != 0:
        return False
    if name == "lm_head.weight":
        return True
    in_a_layer = name.startswith("model.layers.")
    return in_a_layer and name.endswith(("_proj.weight", "_mqa.weight")) and "kv_b_proj" not in name


def quantise_dequantise(w: np.ndarray, bits: int) -> np.ndarray:
    """w: [rows, k] float32 -> the dequantised weights, float32."""
    rows, k = w.shape
    g = w.reshape(rows, k // GROUP, GROUP)
    if bits == 8:
        amax = np.abs(g).max(axis=2)
        d = (amax / np.float32(127)).astype(np.float32).astype(np.float16).astype(np.float32)
        lo, hi = -127, 127
    else:
        first_max = np.abs(g).argmax(axis=2)  # the first of equal magnitudes, as the C++ loop keeps
        m = np.take_along_axis(g, first_max[..., None], axis=2)[..., 0]
        d = (m / np.float32(-8)).astype(np.float32).astype(np.float16).astype(np.float32)
        lo, hi = -8, 7
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.where(d[..., None] == 0, 0, np.clip(np.rint(g / d[..., None]), lo, hi)).astype(np.float32)
    return (q * d[..., None]).astype(np.float32).reshape(rows, k)


def build(name: str, bits: int, fixtures: str) -> dict:
    d = os.path.join(fixtures, name)
    c = json.load(open(os.path.join(d, "config.json")))
    eff = mf.effective_fp32(load_file(os.path.join(d, "model.safetensors")))
    quantised = []
    for n, t in eff.items():
        layer = int(n.split(".")[2]) if n.startswith("model.layers.") else -1
        if layer < c["num_hidden_layers"] and is_quantised(n, t):
            eff[n] = torch.from_numpy(quantise_dequantise(t.numpy(), bits))
            quantised.append(n)
    model = mf.build_tf_model(c, eff, [])
    spec = mf.SpecRef(c, eff)
    gold = json.load(open(os.path.join(d, "golden.json")))
    doc = OrderedDict(model=name, transformers_version=mf.transformers.__version__,
                      torch_version=torch.__version__.split("+")[0], dtype="float32",
                      weights=f'[backend.cpu] weights = "int{bits}": the {len(quantised)} matrices Fathom quantises, '
                              "quantised and dequantised (tools/reference/make_quantized_golden.py)",
                      sequences=[])
    spec_vs_tf = 0.0
    with torch.no_grad():
        for s in gold["sequences"]:
            logits = model(input_ids=torch.tensor([s["ids"]])).logits[0].float()
            ref, _ = spec.forward(s["ids"])
            spec_vs_tf = max(spec_vs_tf, mf.rel_err(logits, ref))
            doc["sequences"].append(OrderedDict(ids=s["ids"], logits=[mf.f32_list(r) for r in logits]))
    # The same checks as the fixtures themselves: transformers agrees with the spec's own forward,
    # and no expert choice is so near a tie that f32 rounding could flip it.
    assert spec_vs_tf < 1e-5, spec_vs_tf
    min_sel = min((m[0] for m in spec.margins), default=None)
    min_grp = min((m[1] for m in spec.margins), default=None)
    assert min_sel is None or min_sel > 1e-4, f"{name} int{bits}: routing near-tie {min_sel}"
    assert min_grp is None or min_grp > 1e-4, f"{name} int{bits}: group near-tie {min_grp}"
    mf.write_golden(os.path.join(d, f"golden-int{bits}.json"), doc)
    return dict(quantised=len(quantised), spec_vs_tf=spec_vs_tf, min_routing_margin=min_sel, min_group_margin=min_grp)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fixtures", default=mf.DEFAULT_OUT)
    args = ap.parse_args()
    torch.manual_seed(0)
    for name in FIXTURES:
        for bits in (8, 4):
            print(f"[{name} int{bits}] " + json.dumps(build(name, bits, args.fixtures)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
