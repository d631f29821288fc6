"""Decode roofline: measured DRAM bandwidth / bytes that one decoded token must read.

Bandwidth comes from stream_copy.c (built here with the system C compiler and OpenMP, run with the
benchmark's thread count). Bytes per token at batch 1 are counted from config.json:
  every layer's attention matrices (W_UK and W_UV both, as absorbed decode reads them), the dense
  MLPs, per MoE layer the router, the shared experts and the top-k routed experts (a token's own
  k: over a decode of many tokens each token reads k different experts, so no reuse is assumed),
  the token's embedding row, the final norm and lm_head, all norms, and the latent KV cache
  ((kv_lora_rank + rope dims) per layer per cached position) at the mean context of the decode.
"""
import os
import shutil
import subprocess
from pathlib import Path

HERE = Path(__file__).resolve().parent


def measure_bandwidth(threads: int, build_dir: Path, mib: int = 1024, repeats: int = 5) -> dict:
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        raise RuntimeError("no C compiler (cc) to build the bandwidth kernel")
    exe = build_dir / "stream_copy"
    subprocess.run([cc, "-O3", "-march=native", "-fopenmp", str(HERE / "stream_copy.c"), "-o", str(exe)], check=True)
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OMP_PROC_BIND="spread")
    out = subprocess.run([str(exe), str(mib), str(repeats)], env=env, check=True, capture_output=True, text=True).stdout
    copy_gbs, read_gbs, used = out.split()[:3]
    return {"copy_gbs": float(copy_gbs), "read_gbs": float(read_gbs), "threads": int(used), "array_mib": mib}


def bytes_per_decoded_token(cfg: dict, weight_bytes: int, kv_bytes: int, mean_context: float) -> dict:
    d, h = cfg["hidden_size"], cfg["num_attention_heads"]
    nope, rope, v, c = cfg["qk_nope_head_dim"], cfg["qk_rope_head_dim"], cfg["v_head_dim"], cfg["kv_lora_rank"]
    q_lora = cfg.get("q_lora_rank") or 0
    q = (q_lora * d + h * (nope + rope) * q_lora) if q_lora else h * (nope + rope) * d
    attention = q + (c + rope) * d + h * (nope + v) * c + d * h * v
    norms_f32 = 4 * (2 * d + c + q_lora)
    layers = cfg["num_hidden_layers"]
    dense = min(cfg["first_k_dense_replace"], layers)
    moe = layers - dense
    moe_i, k = cfg["moe_intermediate_size"], cfg["num_experts_per_tok"]
    parts = {
        "attention": layers * attention * weight_bytes,
        "dense_mlp": dense * 3 * d * cfg["intermediate_size"] * weight_bytes,
        "router": moe * cfg["n_routed_experts"] * d * weight_bytes,
        "shared_experts": moe * 3 * d * moe_i * cfg["n_shared_experts"] * weight_bytes,
        "routed_experts": moe * k * 3 * d * moe_i * weight_bytes,
        "embedding_row": d * weight_bytes,
        "lm_head": cfg["vocab_size"] * d * weight_bytes + 4 * d,
        "norms": layers * norms_f32,
        "kv_cache": int(layers * (c + rope) * kv_bytes * mean_context),
    }
    parts["total"] = sum(parts.values())
    return parts
