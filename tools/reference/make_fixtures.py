#!/usr/bin/env python3
"""Build Fathom's golden reference fixtures: tiny DeepSeek checkpoints + transformers' fp32 logits.

What it writes (under --out, default <repo>/tests/fixtures):

  deepseek-v3-tiny/          V3-style (q_lora, sigmoid + noaux_tc, n_group 4 > 1, dense layer 0,
                             MoE layers 1-2, one MTP layer = model.layers.3.*), BF16 weights.
  deepseek-v3-tiny-sharded/  the same tensors as deepseek-v3-tiny split into two shards
                             (model-0000{1,2}-of-00002.safetensors + model.safetensors.index.json);
                             layer 1's tensors are split across the two shards. golden.json is a copy.
  deepseek-v2-lite-tiny/     V2-Lite-style (no q_lora -> q_proj, softmax + greedy, no renorm,
                             routed_scaling_factor 1.0, 2 shared experts, mscale 0.707), BF16, no MTP.
  deepseek-v3-tiny-fp8/      V3-style, FP8 e4m3 weights with 128x128 block scales (`*_scale_inv`,
                             F32 [ceil(out/128), ceil(in/128)]); dims are not multiples of 128.

Each directory holds
  config.json        hub-style config (the published DeepSeek config.json with tiny dims:
                     `rope_scaling`, `torch_dtype`, `quantization_config` for fp8, ...)
  model.safetensors  hub tensor names / dtypes / layouts (per-expert `mlp.experts.E.*_proj.weight`,
                     router `mlp.gate.weight` BF16, `e_score_correction_bias` F32, MTP layer
                     `model.layers.{num_hidden_layers}.*` with its own embed_tokens / shared_head.head)
  golden.json        token id sequences, transformers' fp32 prefill logits [T, V] for each, and for V3
                     fixtures the MTP logits [T-1, V] (see tools/reference/README.md for the format).

The golden logits are computed by transformers' DeepseekV3ForCausalLM / DeepseekV2ForCausalLM in float32
with eager attention on exactly the weights stored in the file (BF16 values upcast to fp32; FP8 weights
dequantised in fp32 as float(W_fp8) * scale_inv[i//128, j//128]). transformers' fused expert layout is
filled from the hub layout by this script's own mapping, and cross-checked by (1) loading the written
directory with transformers' own `from_pretrained` (BF16 fixtures), (2) an independent float64
implementation of the spec (docs/reference/deepseek-spec.md in shared/) that reads the hub tensors
directly, and (3) for MTP, transformers' generic `MtpModel`.

Everything is seeded; rerunning reproduces the same files (safetensors byte-identical; golden logits
identical on the same CPU / library versions; elsewhere they may differ in the last bits, which
--verify tolerates up to 1e-6 relative).

Usage:
  python3 tools/reference/make_fixtures.py                 # write all fixtures to tests/fixtures
  python3 tools/reference/make_fixtures.py --out /tmp/fx   # write elsewhere (e.g. to diff)
  python3 tools/reference/make_fixtures.py --only deepseek-v3-tiny-fp8
  python3 tools/reference/make_fixtures.py --verify        # regenerate to a temp dir, compare with --out
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import shutil
import sys
import tempfile
from collections import OrderedDict

import torch
import torch.nn as nn

import transformers
from safetensors.torch import load_file, save_file

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DEFAULT_OUT = os.path.join(REPO_ROOT, "tests", "fixtures")

# --------------------------------------------------------------------------------------------------
# Hub config templates: the published DeepSeek-V3 and DeepSeek-V2-Lite config.json (field for field,
# see shared/models/configs/), with the architecture numbers replaced per fixture.
# --------------------------------------------------------------------------------------------------
V3_HUB_TEMPLATE = OrderedDict([
    ("architectures", ["DeepseekV3ForCausalLM"]),
    ("attention_bias", False),
    ("attention_dropout", 0.0),
    ("aux_loss_alpha", 0.001),
    ("bos_token_id", 0),
    ("eos_token_id", 1),
    ("ep_size", 1),
    ("first_k_dense_replace", 3),
    ("hidden_act", "silu"),
    ("hidden_size", 7168),
    ("initializer_range", 0.02),
    ("intermediate_size", 18432),
    ("kv_lora_rank", 512),
    ("max_position_embeddings", 163840),
    ("model_type", "deepseek_v3"),
    ("moe_intermediate_size", 2048),
    ("moe_layer_freq", 1),
    ("n_group", 8),
    ("n_routed_experts", 256),
    ("n_shared_experts", 1),
    ("norm_topk_prob", True),
    ("num_attention_heads", 128),
    ("num_experts_per_tok", 8),
    ("num_hidden_layers", 61),
    ("num_key_value_heads", 128),
    ("num_nextn_predict_layers", 1),
    ("q_lora_rank", 1536),
    ("qk_nope_head_dim", 128),
    ("qk_rope_head_dim", 64),
    ("quantization_config", OrderedDict([
        ("activation_scheme", "dynamic"),
        ("fmt", "e4m3"),
        ("quant_method", "fp8"),
        ("weight_block_size", [128, 128]),
    ])),
    ("rms_norm_eps", 1e-06),
    ("rope_scaling", OrderedDict([
        ("beta_fast", 32),
        ("beta_slow", 1),
        ("factor", 40),
        ("mscale", 1.0),
        ("mscale_all_dim", 1.0),
        ("original_max_position_embeddings", 4096),
        ("type", "yarn"),
    ])),
    ("rope_theta", 10000),
    ("routed_scaling_factor", 2.5),
    ("scoring_func", "sigmoid"),
    ("seq_aux", True),
    ("tie_word_embeddings", False),
    ("topk_group", 4),
    ("topk_method", "noaux_tc"),
    ("torch_dtype", "bfloat16"),
    ("use_cache", True),
    ("v_head_dim", 128),
    ("vocab_size", 129280),
])

V2_LITE_HUB_TEMPLATE = OrderedDict([
    ("architectures", ["DeepseekV2ForCausalLM"]),
    ("attention_bias", False),
    ("attention_dropout", 0.0),
    ("aux_loss_alpha", 0.001),
    ("bos_token_id", 100000),
    ("eos_token_id", 100001),
    ("first_k_dense_replace", 1),
    ("hidden_act", "silu"),
    ("hidden_size", 2048),
    ("initializer_range", 0.02),
    ("intermediate_size", 10944),
    ("kv_lora_rank", 512),
    ("max_position_embeddings", 163840),
    ("model_type", "deepseek_v2"),
    ("moe_intermediate_size", 1408),
    ("moe_layer_freq", 1),
    ("n_group", 1),
    ("n_routed_experts", 64),
    ("n_shared_experts", 2),
    ("norm_topk_prob", False),
    ("num_attention_heads", 16),
    ("num_experts_per_tok", 6),
    ("num_hidden_layers", 27),
    ("num_key_value_heads", 16),
    ("pretraining_tp", 1),
    ("q_lora_rank", None),
    ("qk_nope_head_dim", 128),
    ("qk_rope_head_dim", 64),
    ("rms_norm_eps", 1e-06),
    ("rope_scaling", OrderedDict([
        ("beta_fast", 32),
        ("beta_slow", 1),
        ("factor", 40),
        ("mscale", 0.707),
        ("mscale_all_dim", 0.707),
        ("original_max_position_embeddings", 4096),
        ("type", "yarn"),
    ])),
    ("rope_theta", 10000),
    ("routed_scaling_factor", 1.0),
    ("scoring_func", "softmax"),
    ("seq_aux", True),
    ("tie_word_embeddings", False),
    ("topk_group", 1),
    ("topk_method", "greedy"),
    ("torch_dtype", "bfloat16"),
    ("use_cache", True),
    ("v_head_dim", 128),
    ("vocab_size", 102400),
])

# --------------------------------------------------------------------------------------------------
# Fixture definitions
# --------------------------------------------------------------------------------------------------
FIXTURES = OrderedDict()

FIXTURES["deepseek-v3-tiny"] = dict(
    template="v3", fp8=False, seed=20250101, seq_lens=[7, 33, 40],
    dims=dict(vocab_size=256, hidden_size=64, num_hidden_layers=3, first_k_dense_replace=1,
              num_attention_heads=4, num_key_value_heads=4, q_lora_rank=48, kv_lora_rank=32,
              qk_nope_head_dim=16, qk_rope_head_dim=16, v_head_dim=12,
              intermediate_size=96, moe_intermediate_size=32, n_routed_experts=8, n_group=4,
              topk_group=2, num_experts_per_tok=3, n_shared_experts=1),
)
FIXTURES["deepseek-v2-lite-tiny"] = dict(
    template="v2lite", fp8=False, seed=20250206, seq_lens=[7, 33, 40],
    dims=dict(vocab_size=256, hidden_size=64, num_hidden_layers=3, first_k_dense_replace=1,
              num_attention_heads=4, num_key_value_heads=4, q_lora_rank=None, kv_lora_rank=32,
              qk_nope_head_dim=16, qk_rope_head_dim=8, v_head_dim=16,
              intermediate_size=96, moe_intermediate_size=32, n_routed_experts=8, n_group=1,
              topk_group=1, num_experts_per_tok=3, n_shared_experts=2,
              bos_token_id=0, eos_token_id=1),
)
FIXTURES["deepseek-v3-tiny-fp8"] = dict(
    template="v3", fp8=True, seed=20250303, seq_lens=[7, 33],
    dims=dict(vocab_size=192, hidden_size=160, num_hidden_layers=2, first_k_dense_replace=1,
              num_attention_heads=2, num_key_value_heads=2, q_lora_rank=144, kv_lora_rank=160,
              qk_nope_head_dim=64, qk_rope_head_dim=32, v_head_dim=48,
              intermediate_size=300, moe_intermediate_size=136, n_routed_experts=8, n_group=4,
              topk_group=2, num_experts_per_tok=3, n_shared_experts=1),
)
SHARDED_NAME = "deepseek-v3-tiny-sharded"
SHARDED_SOURCE = "deepseek-v3-tiny"

FP8_BLOCK = 128
FP8_MAX = 448.0  # torch.finfo(torch.float8_e4m3fn).max


def hub_config(fx):
    tpl = V3_HUB_TEMPLATE if fx["template"] == "v3" else V2_LITE_HUB_TEMPLATE
    cfg = copy.deepcopy(tpl)
    for k, v in fx["dims"].items():
        assert k in cfg, k
        cfg[k] = v
    if fx["template"] == "v3" and not fx["fp8"]:
        del cfg["quantization_config"]  # BF16 checkpoint (like the published BF16 conversions)
    return cfg


# --------------------------------------------------------------------------------------------------
# Random weights in hub layout
# --------------------------------------------------------------------------------------------------
class WeightGen:
    """Seeded generator of hub-layout tensors (fp32 values; rounded to the file dtype later)."""

    def __init__(self, seed):
        self.g = torch.Generator().manual_seed(seed)

    def normal(self, *shape, std=1.0):
        return torch.randn(*shape, generator=self.g, dtype=torch.float32) * std

    def uniform(self, *shape, lo=0.0, hi=1.0):
        return torch.rand(*shape, generator=self.g, dtype=torch.float32) * (hi - lo) + lo

    def linear(self, out_f, in_f, gain=1.0):
        # unit-variance output for unit-variance input: keeps the residual stream O(1)
        return self.normal(out_f, in_f, std=gain / math.sqrt(in_f))

    def norm(self, n):
        return self.uniform(n, lo=0.8, hi=1.2)  # "random around 1"


def decoder_layer_weights(wg, c, prefix, is_moe, is_v3):
    """Tensors of one decoder layer, hub names. Returns list of (name, tensor, kind) with kind in
    {'linear' (2-D Linear inside a decoder layer: FP8 candidate), 'bf16', 'f32'}."""
    D, H = c["hidden_size"], c["num_attention_heads"]
    dn, dr, dv = c["qk_nope_head_dim"], c["qk_rope_head_dim"], c["v_head_dim"]
    C, Q = c["kv_lora_rank"], c["q_lora_rank"]
    out = []
    a = prefix + "self_attn."
    if Q:
        out.append((a + "q_a_proj.weight", wg.linear(Q, D), "linear"))
        out.append((a + "q_a_layernorm.weight", wg.norm(Q), "bf16"))
        out.append((a + "q_b_proj.weight", wg.linear(H * (dn + dr), Q, gain=1.5), "linear"))
    else:
        out.append((a + "q_proj.weight", wg.linear(H * (dn + dr), D, gain=1.5), "linear"))
    out.append((a + "kv_a_proj_with_mqa.weight", wg.linear(C + dr, D, gain=1.5), "linear"))
    out.append((a + "kv_a_layernorm.weight", wg.norm(C), "bf16"))
    out.append((a + "kv_b_proj.weight", wg.linear(H * (dn + dv), C, gain=1.5), "linear"))
    out.append((a + "o_proj.weight", wg.linear(D, H * dv), "linear"))
    m = prefix + "mlp."
    if is_moe:
        E, I = c["n_routed_experts"], c["moe_intermediate_size"]
        out.append((m + "gate.weight", wg.linear(E, D, gain=2.0), "bf16"))
        if is_v3:
            # Correction bias, FP32 in the checkpoint. Mostly NEGATIVE so that selection scores
            # sigmoid+bias are often < 0: masking dropped groups with 0.0 instead of -inf
            # (spec pitfall 6) then picks wrong experts in these fixtures.
            out.append((m + "gate.e_score_correction_bias", wg.uniform(E, lo=-1.0, hi=0.25), "f32"))
        for e in range(E):
            out.append((m + f"experts.{e}.gate_proj.weight", wg.linear(I, D), "linear"))
            out.append((m + f"experts.{e}.up_proj.weight", wg.linear(I, D), "linear"))
            out.append((m + f"experts.{e}.down_proj.weight", wg.linear(D, I), "linear"))
        Is = I * c["n_shared_experts"]
        out.append((m + "shared_experts.gate_proj.weight", wg.linear(Is, D), "linear"))
        out.append((m + "shared_experts.up_proj.weight", wg.linear(Is, D), "linear"))
        out.append((m + "shared_experts.down_proj.weight", wg.linear(D, Is), "linear"))
    else:
        I = c["intermediate_size"]
        out.append((m + "gate_proj.weight", wg.linear(I, D), "linear"))
        out.append((m + "up_proj.weight", wg.linear(I, D), "linear"))
        out.append((m + "down_proj.weight", wg.linear(D, I), "linear"))
    out.append((prefix + "input_layernorm.weight", wg.norm(D), "bf16"))
    out.append((prefix + "post_attention_layernorm.weight", wg.norm(D), "bf16"))
    return out


def is_moe_layer(c, i):
    # HF hub rule (spec §1.1): MoE iff i >= first_k_dense_replace and i % moe_layer_freq == 0
    return i >= c["first_k_dense_replace"] and i % c.get("moe_layer_freq", 1) == 0


def make_hub_weights(c, seed):
    """OrderedDict name -> (fp32 tensor, kind), in the published checkpoint's logical order."""
    wg = WeightGen(seed)
    is_v3 = c["model_type"] == "deepseek_v3"
    D, V, L = c["hidden_size"], c["vocab_size"], c["num_hidden_layers"]
    w = OrderedDict()
    embed = wg.normal(V, D)
    w["model.embed_tokens.weight"] = (embed, "bf16")
    for i in range(L):
        for n, t, k in decoder_layer_weights(wg, c, f"model.layers.{i}.", is_moe_layer(c, i), is_v3):
            w[n] = (t, k)
    w["model.norm.weight"] = (wg.norm(D), "bf16")
    head = wg.linear(V, D, gain=3.0)
    w["lm_head.weight"] = (head, "bf16")
    for j in range(c.get("num_nextn_predict_layers", 0) if is_v3 else 0):
        p = f"model.layers.{L + j}."
        # MTP module (spec §3.6). embed_tokens / shared_head.head are stored separately in the
        # published checkpoint but hold the main model's embedding / lm_head values.
        w[p + "embed_tokens.weight"] = (embed.clone(), "bf16")
        w[p + "enorm.weight"] = (wg.norm(D), "bf16")
        w[p + "hnorm.weight"] = (wg.norm(D), "bf16")
        w[p + "eh_proj.weight"] = (wg.linear(D, 2 * D), "bf16")  # BF16 even in the FP8 checkpoint
        for n, t, k in decoder_layer_weights(wg, c, p, True, is_v3):  # MTP layer is always MoE
            w[n] = (t, k)
        w[p + "shared_head.norm.weight"] = (wg.norm(D), "bf16")
        w[p + "shared_head.head.weight"] = (head.clone(), "bf16")
    return w


def quantize_fp8_block(w):
    """DeepSeek block quantisation: per 128x128 block (ragged edges zero-padded), scale = amax/448,
    q = e4m3(w / scale). Returns (q float8_e4m3fn [M,N], scale_inv float32 [ceil(M/128), ceil(N/128)])."""
    M, N = w.shape
    Mb, Nb = -(-M // FP8_BLOCK), -(-N // FP8_BLOCK)
    wp = torch.zeros(Mb * FP8_BLOCK, Nb * FP8_BLOCK, dtype=torch.float32)
    wp[:M, :N] = w
    blocks = wp.view(Mb, FP8_BLOCK, Nb, FP8_BLOCK)
    amax = blocks.abs().amax(dim=(1, 3))
    assert bool((amax > 0).all())
    scale = (amax / FP8_MAX).to(torch.float32)
    q = (blocks / scale[:, None, :, None]).to(torch.float8_e4m3fn)
    q = q.view(Mb * FP8_BLOCK, Nb * FP8_BLOCK)[:M, :N].contiguous()
    assert not torch.isnan(q.to(torch.float32)).any()
    # e4m3 has 3 mantissa bits: rounding error <= 1/16 relative (normals), <= 2^-10 * scale (subnormals)
    deq = dequantize_fp8_block(q, scale)
    sc_full = scale[torch.arange(M) // FP8_BLOCK][:, torch.arange(N) // FP8_BLOCK]
    assert bool(((deq - w).abs() <= w.abs() / 16 + sc_full * 2.0 ** -10).all())
    return q, scale.contiguous()


def dequantize_fp8_block(q, s):
    M, N = q.shape
    rows = torch.arange(M) // FP8_BLOCK
    cols = torch.arange(N) // FP8_BLOCK
    return q.to(torch.float32) * s[rows][:, cols]


def to_file_tensors(hub_w, c, fp8):
    """Hub tensors as stored: BF16 weights, F32 correction bias, and for fp8 every 2-D Linear inside the
    decoder layers (incl. the MTP decoder block, excl. its eh_proj/shared_head/embed_tokens) as
    F8_E4M3 + `<name>_scale_inv` F32."""
    out = OrderedDict()
    for name, (t, kind) in hub_w.items():
        if kind == "f32":
            out[name] = t.to(torch.float32).contiguous()
        elif kind == "linear" and fp8:
            q, s = quantize_fp8_block(t.to(torch.bfloat16).to(torch.float32))
            out[name] = q
            out[name + "_scale_inv"] = s
        else:
            out[name] = t.to(torch.bfloat16).contiguous()
    return out


def effective_fp32(file_tensors):
    """The weights a runtime must use: BF16 upcast to fp32, FP8 dequantised in fp32. Drops *_scale_inv."""
    eff = OrderedDict()
    for name, t in file_tensors.items():
        if name.endswith("_scale_inv"):
            continue
        if t.dtype == torch.float8_e4m3fn:
            eff[name] = dequantize_fp8_block(t, file_tensors[name + "_scale_inv"])
        else:
            eff[name] = t.to(torch.float32)
    return eff


# --------------------------------------------------------------------------------------------------
# transformers oracle
# --------------------------------------------------------------------------------------------------
def tf_classes(c):
    if c["model_type"] == "deepseek_v3":
        from transformers.models.deepseek_v3 import modeling_deepseek_v3 as mod
        return (transformers.DeepseekV3Config, transformers.DeepseekV3ForCausalLM,
                mod.DeepseekV3DecoderLayer, mod.DeepseekV3RMSNorm, mod)
    from transformers.models.deepseek_v2 import modeling_deepseek_v2 as mod
    return (transformers.DeepseekV2Config, transformers.DeepseekV2ForCausalLM,
            mod.DeepseekV2DecoderLayer, mod.DeepseekV2RMSNorm, mod)


def tf_config(c):
    Cfg = tf_classes(c)[0]
    d = {k: v for k, v in c.items() if k not in ("quantization_config", "architectures", "model_type",
                                                  "torch_dtype")}
    cfg = Cfg(**d)
    cfg._attn_implementation = "eager"
    return cfg


def expected_softmax_scale(c):
    rs = c["rope_scaling"]
    m = 0.1 * rs["mscale_all_dim"] * math.log(rs["factor"]) + 1.0 if rs["factor"] > 1 else 1.0
    return (c["qk_nope_head_dim"] + c["qk_rope_head_dim"]) ** -0.5 * m * m


def check_and_fix_oracle(model, c, notes):
    """Spec §2.3/§2.5/§2.8 checks on the constructed transformers model; fixes (and records) deviations."""
    L = c["num_hidden_layers"]
    want = expected_softmax_scale(c)
    attn_mods = [model.model.layers[i].self_attn for i in range(L)]
    bad = [a.scaling for a in attn_mods if abs(a.scaling - want) > 1e-12 * want]
    if bad:
        notes.append(f"FIXED softmax scale {bad[0]} -> {want} (missing YaRN mscale^2)")
        for a in attn_mods:
            a.scaling = want
    rot = model.model.rotary_emb
    want_inv = torch.tensor(spec_inv_freq(c), dtype=torch.float64)
    got_inv = rot.inv_freq.to(torch.float64)
    if not torch.allclose(got_inv, want_inv, rtol=1e-6, atol=0):
        notes.append("FIXED inv_freq (YaRN correction range)")
        rot.inv_freq = want_inv.to(torch.float32)
    if abs(rot.attention_scaling - 1.0) > 1e-12:
        notes.append(f"FIXED rope attention_scaling {rot.attention_scaling} -> 1.0")
        rot.attention_scaling = 1.0
    if c["model_type"] == "deepseek_v3":
        for i in range(L):
            if is_moe_layer(c, i):
                g = model.model.layers[i].mlp.gate
                assert g.e_score_correction_bias.dtype == torch.float32
                assert g.weight.dtype == torch.float32
    assert model.lm_head.weight.data_ptr() != model.model.embed_tokens.weight.data_ptr(), "lm_head tied"


def patch_v3_group_mask_if_needed(mod, notes):
    """transformers#45440: some versions masked dropped groups with 0.0. Detect with a probe and
    replace the router forward by a -inf version if needed."""
    import inspect
    src = inspect.getsource(mod.DeepseekV3TopkRouter.forward)
    if 'float("-inf")' in src or "float('-inf')" in src:
        return
    notes.append("FIXED DeepseekV3TopkRouter group mask 0.0 -> -inf (monkeypatch)")

    def forward(self, hidden_states):
        hidden_states = hidden_states.view(-1, self.hidden_dim)
        router_logits = nn.functional.linear(hidden_states.float(), self.weight.float())
        scores = router_logits.sigmoid()
        sfc = scores + self.e_score_correction_bias
        gs = sfc.view(-1, self.num_group, self.num_experts // self.num_group).topk(2, dim=-1)[0].sum(-1)
        gi = torch.topk(gs, k=self.topk_group, dim=-1, sorted=False)[1]
        gm = torch.zeros_like(gs).scatter_(1, gi, 1)
        sm = gm.unsqueeze(-1).expand(-1, self.num_group, self.num_experts // self.num_group).reshape(
            -1, self.num_experts)
        sfc = sfc.masked_fill(~sm.bool(), float("-inf"))
        idx = torch.topk(sfc, k=self.top_k, dim=-1, sorted=False)[1]
        wts = scores.gather(1, idx)
        if self.norm_topk_prob:
            wts = wts / (wts.sum(-1, keepdim=True) + 1e-20)
        return router_logits, wts * self.routed_scaling_factor, idx

    mod.DeepseekV3TopkRouter.forward = forward


def hub_to_internal(eff, c, internal_keys):
    """Map hub names/layout -> the installed transformers' internal state dict (main model only).
    transformers >= 5 fuses experts: experts.gate_up_proj [E, 2I, D] = per expert cat(gate, up) rows,
    experts.down_proj [E, D, I]. Older layouts (per-expert nn.Linear) are used as-is."""
    L = c["num_hidden_layers"]
    sd = OrderedDict()
    for name, t in eff.items():
        if name.startswith(f"model.layers.") and int(name.split(".")[2]) >= L:
            continue  # MTP
        sd[name] = t
    fused = any(k.endswith("mlp.experts.gate_up_proj") for k in internal_keys)
    if fused:
        E = c["n_routed_experts"]
        for i in range(L):
            p = f"model.layers.{i}.mlp.experts."
            if p + "0.gate_proj.weight" not in sd:
                continue
            gu, dn = [], []
            for e in range(E):
                gu.append(torch.cat([sd.pop(p + f"{e}.gate_proj.weight"), sd.pop(p + f"{e}.up_proj.weight")], 0))
                dn.append(sd.pop(p + f"{e}.down_proj.weight"))
            sd[p + "gate_up_proj"] = torch.stack(gu, 0)
            sd[p + "down_proj"] = torch.stack(dn, 0)
    return sd


def internal_to_hub(sd, c):
    """Inverse of hub_to_internal (used for the round-trip check)."""
    out = OrderedDict()
    I = c["moe_intermediate_size"]
    for k, t in sd.items():
        if k.endswith("mlp.experts.gate_up_proj"):
            p = k[: -len("gate_up_proj")]
            for e in range(t.shape[0]):
                out[p + f"{e}.gate_proj.weight"] = t[e, :I]
                out[p + f"{e}.up_proj.weight"] = t[e, I:]
        elif k.endswith("mlp.experts.down_proj"):
            p = k[: -len("down_proj")]
            for e in range(t.shape[0]):
                out[p + f"{e}.down_proj.weight"] = t[e]
        else:
            out[k] = t
    return out


def build_tf_model(c, eff, notes):
    Cfg, Model, _, _, mod = tf_classes(c)
    if c["model_type"] == "deepseek_v3":
        patch_v3_group_mask_if_needed(mod, notes)
    torch.manual_seed(0)
    model = Model(tf_config(c)).to(torch.float32).eval()
    sd = hub_to_internal(eff, c, model.state_dict().keys())
    model.load_state_dict(sd, strict=True)
    check_and_fix_oracle(model, c, notes)
    return model


def causal_mask(n):
    return torch.full((n, n), float("-inf")).triu(1)[None, None]


class MTPModule(nn.Module):
    """Spec §3.6 / vLLM deepseek_mtp, built from transformers' own decoder-layer and RMSNorm classes."""

    def __init__(self, c, tfcfg):
        super().__init__()
        _, _, Layer, Norm, _ = tf_classes(c)
        D, V, N = c["hidden_size"], c["vocab_size"], c["num_hidden_layers"]
        self.embed_tokens = nn.Embedding(V, D)
        self.enorm = Norm(D, eps=c["rms_norm_eps"])
        self.hnorm = Norm(D, eps=c["rms_norm_eps"])
        self.eh_proj = nn.Linear(2 * D, D, bias=False)
        self.layer = Layer(tfcfg, layer_idx=N)  # layer_idx >= first_k_dense_replace -> MoE
        self.shared_head_norm = Norm(D, eps=c["rms_norm_eps"])
        self.shared_head = nn.Linear(D, V, bias=False)

    def load_hub(self, eff, c):
        N = c["num_hidden_layers"]
        p = f"model.layers.{N}."
        sd = OrderedDict()
        ren = {"embed_tokens.weight": "embed_tokens.weight", "enorm.weight": "enorm.weight",
               "hnorm.weight": "hnorm.weight", "eh_proj.weight": "eh_proj.weight",
               "shared_head.norm.weight": "shared_head_norm.weight",
               "shared_head.head.weight": "shared_head.weight"}
        layer_hub = OrderedDict()
        for k, t in eff.items():
            if not k.startswith(p):
                continue
            r = k[len(p):]
            if r in ren:
                sd[ren[r]] = t
            else:
                layer_hub[f"model.layers.{N}." + r] = t
        keys = ["model.layers.%d." % N + k for k in self.layer.state_dict().keys()]
        lsd = hub_to_internal_layer(layer_hub, c, N, keys)
        for k, t in lsd.items():
            sd["layer." + k[len(p):]] = t
        self.load_state_dict(sd, strict=True)

    def forward(self, ids, h_post, rotary):
        # ids: [1, T]; h_post: [1, T, D] main-model hidden AFTER model.norm
        T = ids.shape[1]
        e = self.embed_tokens(ids[:, 1:])
        x = self.eh_proj(torch.cat([self.enorm(e), self.hnorm(h_post[:, : T - 1])], dim=-1))
        pos = torch.arange(T - 1)[None]
        pe = rotary(x, pos)
        x = self.layer(x, attention_mask=causal_mask(T - 1), position_ids=pos, position_embeddings=pe)
        return self.shared_head(self.shared_head_norm(x))


def hub_to_internal_layer(layer_hub, c, N, internal_keys):
    cc = dict(c)
    cc["num_hidden_layers"] = N + 1
    return hub_to_internal(layer_hub, cc, internal_keys)


def tf_mtp_crosscheck(model, c, eff, ids, h_post):
    """Cross-check with transformers' generic MtpModel (modeling_layers.MtpModel) where available.
    It feeds ids t_1.. at positions 1.. (ours: positions 0..; RoPE is relative, same result)."""
    try:
        from transformers.modeling_layers import MtpModel
        from transformers.cache_utils import MtpCache
    except ImportError:
        return None
    N = c["num_hidden_layers"]
    mm = MtpModel(model, 1).to(torch.float32).eval()
    p = f"model.layers.{N}."
    sd = OrderedDict()
    layer_hub = OrderedDict()
    for k, t in eff.items():
        if not k.startswith(p):
            continue
        r = k[len(p):]
        if r in ("embed_tokens.weight", "shared_head.head.weight"):
            continue  # MtpModel shares them with the main model
        if r.split(".")[0] in ("enorm", "hnorm", "eh_proj"):
            sd["layers.0." + r] = t
        elif r == "shared_head.norm.weight":
            sd["layers.0.post_norm.weight"] = t
        else:
            layer_hub["model.layers.0." + r] = t
    keys = ["model.layers.0." + k for k in mm.layers[0].mtp_block.state_dict().keys()]
    cc = dict(c)
    cc["num_hidden_layers"] = 1
    for k, t in hub_to_internal(layer_hub, cc, keys).items():
        sd["layers.0.mtp_block." + k[len("model.layers.0."):]] = t
    own = mm.layers[0].state_dict()
    assert set(own.keys()) == {k[len("layers.0."):] for k in sd}, (set(own) ^ {k[9:] for k in sd})
    mm.layers[0].load_state_dict({k[len("layers.0."):]: v for k, v in sd.items()}, strict=True)
    for a in [mm.layers[0].mtp_block.self_attn]:
        a.scaling = expected_softmax_scale(c) if abs(a.scaling - expected_softmax_scale(c)) > 1e-12 else a.scaling
    T = ids.shape[1]
    cache = MtpCache(config=model.config.get_mtp_config())
    with torch.no_grad():
        x = mm.forward_layer(0, h_post[:, : T - 1], torch.arange(1, T)[None], cache, input_ids=ids[:, 1:])
        return mm._project_to_logits(x)[0]


# --------------------------------------------------------------------------------------------------
# Independent float64 implementation of the spec (reads hub tensors directly)
# --------------------------------------------------------------------------------------------------
def spec_inv_freq(c, use_max_pos=False):
    rs = c["rope_scaling"]
    dim, base, s = c["qk_rope_head_dim"], float(c["rope_theta"]), float(rs["factor"])
    L0 = c["max_position_embeddings"] if use_max_pos else rs["original_max_position_embeddings"]
    corr = lambda n: dim * math.log(L0 / (n * 2 * math.pi)) / (2 * math.log(base))
    low = max(math.floor(corr(rs["beta_fast"])), 0)
    high = min(math.ceil(corr(rs["beta_slow"])), dim - 1)
    if low == high:
        high += 0.001
    out = []
    for i in range(dim // 2):
        f = base ** (-2 * i / dim)
        ramp = min(max((i - low) / (high - low), 0.0), 1.0)
        smooth = 1 - ramp
        out.append(f / s * (1 - smooth) + f * smooth)
    return out


class SpecRef:
    """Float64 forward of spec §2 with toggles for the pitfalls of §6 (to show the fixtures catch them)."""

    def __init__(self, c, eff, group_mask_zero=False, no_mscale2=False, yarn_max_pos=False,
                 mtp_pre_norm=False, mtp_hidden_first=False, rope_neox=False, bias_in_weights=False,
                 no_route_scale=False):
        self.c = c
        self.W = {k: v.to(torch.float64) for k, v in eff.items()}
        self.gm0, self.mtp_pre, self.mtp_hf = group_mask_zero, mtp_pre_norm, mtp_hidden_first
        self.rope_neox, self.bias_w, self.no_rsf = rope_neox, bias_in_weights, no_route_scale
        self.scale = expected_softmax_scale(c)
        if no_mscale2:
            self.scale = (c["qk_nope_head_dim"] + c["qk_rope_head_dim"]) ** -0.5
        self.inv_freq = torch.tensor(spec_inv_freq(c, use_max_pos=yarn_max_pos), dtype=torch.float64)
        self.margins = []  # (selection margin, group margin) per token per MoE call

    def rms(self, x, w):
        return x / torch.sqrt((x * x).mean(-1, keepdim=True) + self.c["rms_norm_eps"]) * w

    def rope(self, x, pos):  # x [T, ..., dr], interleaved pairs (official / complex form)
        ang = pos.to(torch.float64)[:, None] * self.inv_freq[None]  # [T, dr/2]
        while ang.dim() < x.dim():
            ang = ang.unsqueeze(1)
        co, si = torch.cos(ang), torch.sin(ang)
        if self.rope_neox:  # pitfall 5: NeoX rotate_half on the raw (interleaved) layout
            h = x.shape[-1] // 2
            x1, x2 = x[..., :h], x[..., h:]
            return torch.cat([x1 * co - x2 * si, x2 * co + x1 * si], -1)
        xe, xo = x[..., 0::2], x[..., 1::2]
        y = torch.empty_like(x)
        y[..., 0::2] = xe * co - xo * si
        y[..., 1::2] = xe * si + xo * co
        return y

    def mlp(self, x, p):
        W = self.W
        g = x @ W[p + "gate_proj.weight"].T
        u = x @ W[p + "up_proj.weight"].T
        return (torch.nn.functional.silu(g) * u) @ W[p + "down_proj.weight"].T

    def moe(self, x, p):
        c, W = self.c, self.W
        E, K = c["n_routed_experts"], c["num_experts_per_tok"]
        logits = x @ W[p + "gate.weight"].T
        y = self.mlp(x, p + "shared_experts.")
        for t in range(x.shape[0]):
            if c["scoring_func"] == "sigmoid":
                s = torch.sigmoid(logits[t])
            else:
                s = torch.softmax(logits[t], -1)
            sel = s.clone()
            if (p + "gate.e_score_correction_bias") in W:
                sel = sel + W[p + "gate.e_score_correction_bias"]
            G, TG = c["n_group"], c["topk_group"]
            gmargin = float("inf")
            if c["topk_method"] == "noaux_tc" and G > 1:
                gs = sel.view(G, E // G).topk(2, -1)[0].sum(-1)
                order = torch.argsort(gs, descending=True)
                gmargin = float(gs[order[TG - 1]] - gs[order[TG]])
                keep = torch.zeros(G, dtype=torch.bool)
                keep[order[:TG]] = True
                mask = keep[:, None].expand(G, E // G).reshape(E)
                sel = sel.masked_fill(~mask, 0.0 if self.gm0 else float("-inf"))
            elif c["topk_method"] == "group_limited_greedy" and G > 1:
                raise NotImplementedError
            order = torch.argsort(sel, descending=True)
            idx = order[:K]
            smargin = float(sel[order[K - 1]] - sel[order[K]]) if K < E else float("inf")
            self.margins.append((smargin, gmargin))
            wts = (sel if self.bias_w else s)[idx]
            if c["norm_topk_prob"]:
                wts = wts / (wts.sum() + 1e-20)
            if not self.no_rsf:
                wts = wts * c["routed_scaling_factor"]
            for e, wt in zip(idx.tolist(), wts):
                y[t] = y[t] + wt * self.mlp(x[t:t + 1], p + f"experts.{e}.")[0]
        return y

    def block(self, x, i, pos):
        c, W = self.c, self.W
        p = f"model.layers.{i}."
        a = p + "self_attn."
        T = x.shape[0]
        H, dn, dr, dv, C = (c["num_attention_heads"], c["qk_nope_head_dim"], c["qk_rope_head_dim"],
                            c["v_head_dim"], c["kv_lora_rank"])
        h = self.rms(x, W[p + "input_layernorm.weight"])
        if c["q_lora_rank"]:
            q = self.rms(h @ W[a + "q_a_proj.weight"].T, W[a + "q_a_layernorm.weight"]) @ W[a + "q_b_proj.weight"].T
        else:
            q = h @ W[a + "q_proj.weight"].T
        q = q.view(T, H, dn + dr)
        qn, qp = q[..., :dn], self.rope(q[..., dn:], pos)
        kva = h @ W[a + "kv_a_proj_with_mqa.weight"].T
        ckv, kpe = kva[:, :C], self.rope(kva[:, C:], pos)
        kv = (self.rms(ckv, W[a + "kv_a_layernorm.weight"]) @ W[a + "kv_b_proj.weight"].T).view(T, H, dn + dv)
        kn, v = kv[..., :dn], kv[..., dn:]
        sc = (torch.einsum("shd,thd->hst", qn, kn) + torch.einsum("shd,td->hst", qp, kpe)) * self.scale
        sc = sc + causal_mask(T)[0].to(torch.float64)
        pr = torch.softmax(sc, -1)
        o = torch.einsum("hst,thd->shd", pr, v).reshape(T, H * dv)
        x = x + o @ W[a + "o_proj.weight"].T
        h = self.rms(x, W[p + "post_attention_layernorm.weight"])
        x = x + (self.moe(h, p + "mlp.") if is_moe_layer(c, i) or i >= c["num_hidden_layers"] else self.mlp(h, p + "mlp."))
        return x

    def forward(self, ids):
        c, W = self.c, self.W
        T = len(ids)
        idt = torch.tensor(ids)
        pos = torch.arange(T)
        x = W["model.embed_tokens.weight"][idt]
        for i in range(c["num_hidden_layers"]):
            x = self.block(x, i, pos)
        h_post = self.rms(x, W["model.norm.weight"])
        logits = h_post @ W["lm_head.weight"].T
        mtp = None
        N = c["num_hidden_layers"]
        p = f"model.layers.{N}."
        if (p + "eh_proj.weight") in W:
            hh = (x if self.mtp_pre else h_post)[: T - 1]
            e = W[p + "embed_tokens.weight"][idt[1:]]
            en, hn = self.rms(e, W[p + "enorm.weight"]), self.rms(hh, W[p + "hnorm.weight"])
            cat = torch.cat([hn, en] if self.mtp_hf else [en, hn], -1)
            y = cat @ W[p + "eh_proj.weight"].T
            y = self.block(y, N, torch.arange(T - 1))
            mtp = self.rms(y, W[p + "shared_head.norm.weight"]) @ W[p + "shared_head.head.weight"].T
        return logits, mtp


# --------------------------------------------------------------------------------------------------
# Output helpers
# --------------------------------------------------------------------------------------------------
def rel_err(a, b):
    a = torch.as_tensor(a, dtype=torch.float64)
    b = torch.as_tensor(b, dtype=torch.float64)
    return float((a - b).abs().max() / b.abs().max())


def f32_list(t):
    # float32 values printed with 9 significant digits: parses back to the identical float32
    return [float("%.9g" % v) for v in t.to(torch.float32).tolist()]


def write_golden(path, doc):
    # compact JSON, one matrix row per line
    lines = ["{"]
    head = [k for k in doc if k != "sequences"]
    for k in head:
        lines.append(f"  {json.dumps(k)}: {json.dumps(doc[k])},")
    lines.append('  "sequences": [')
    for si, s in enumerate(doc["sequences"]):
        lines.append("    {")
        lines.append(f'      "ids": {json.dumps(s["ids"])},')
        keys = [k for k in ("logits", "mtp_logits") if k in s]
        for ki, k in enumerate(keys):
            lines.append(f'      "{k}": [')
            rows = s[k]
            for ri, r in enumerate(rows):
                lines.append("        " + json.dumps(r, separators=(",", ":")) + ("," if ri + 1 < len(rows) else ""))
            lines.append("      ]" + ("," if ki + 1 < len(keys) else ""))
        lines.append("    }" + ("," if si + 1 < len(doc["sequences"]) else ""))
    lines.append("  ]")
    lines.append("}")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def write_config(path, cfg):
    with open(path, "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")


def make_sequences(fx, V):
    g = torch.Generator().manual_seed(fx["seed"] + 7)
    seqs = []
    for n, L in enumerate(fx["seq_lens"]):
        ids = torch.randint(2, V, (L,), generator=g).tolist()
        if n == 0:
            ids[0] = 0  # BOS
        if n == 1:
            ids[5] = V - 1  # highest id
            ids[-1] = 1  # EOS id as an ordinary input token
        seqs.append(ids)
    return seqs


# --------------------------------------------------------------------------------------------------
# Main build
# --------------------------------------------------------------------------------------------------
def build_fixture(name, fx, out_dir, report):
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    c = hub_config(fx)
    notes = []
    hub_w = make_hub_weights(c, fx["seed"])
    file_t = to_file_tensors(hub_w, c, fx["fp8"])
    d = os.path.join(out_dir, name)
    os.makedirs(d, exist_ok=True)
    write_config(os.path.join(d, "config.json"), c)
    save_file(dict(file_t), os.path.join(d, "model.safetensors"), metadata={"format": "pt"})

    # Reload exactly what was written; everything below uses the file contents only.
    file_t = load_file(os.path.join(d, "model.safetensors"))
    eff = effective_fp32(file_t)
    with open(os.path.join(d, "config.json")) as f:
        c = json.load(f, object_pairs_hook=OrderedDict)

    model = build_tf_model(c, eff, notes)
    is_v3 = c["model_type"] == "deepseek_v3"
    mtp = None
    if is_v3 and c.get("num_nextn_predict_layers", 0) > 0:
        mtp = MTPModule(c, model.config).to(torch.float32).eval()
        mtp.load_hub(eff, c)
        mtp.layer.self_attn.scaling = model.model.layers[0].self_attn.scaling

    # Round-trip check of the layout conversion: internal -> hub -> fresh model -> same logits.
    rt = internal_to_hub(model.state_dict(), c)
    main_hub = {k: v for k, v in eff.items()
                if not (k.startswith("model.layers.") and int(k.split(".")[2]) >= c["num_hidden_layers"])}
    assert set(rt) == set(main_hub), set(rt) ^ set(main_hub)
    assert all(torch.equal(rt[k], main_hub[k]) for k in rt)

    seqs = make_sequences(fx, c["vocab_size"])
    golden = OrderedDict()
    golden["model"] = name
    golden["transformers_version"] = transformers.__version__
    golden["torch_version"] = torch.__version__.split("+")[0]
    golden["dtype"] = "float32"
    golden["weights"] = ("fp8 e4m3 dequantised in fp32: W = float(W_fp8) * weight_scale_inv[i//128, j//128]"
                         if fx["fp8"] else "bf16 file values upcast to fp32")
    if mtp is not None:
        golden["mtp_hidden"] = "post_final_norm"
        golden["mtp_positions"] = "row p: hidden h_p, token ids[p+1], rope position p (p = 0..T-2)"
    golden["sequences"] = []

    spec = SpecRef(c, eff)
    toggles = OrderedDict([("no_mscale2", dict(no_mscale2=True)), ("yarn_max_pos", dict(yarn_max_pos=True)),
                           ("rope_neox", dict(rope_neox=True))])
    if is_v3:
        toggles["group_mask_zero"] = dict(group_mask_zero=True)
        toggles["bias_in_weights"] = dict(bias_in_weights=True)
        toggles["no_route_scale"] = dict(no_route_scale=True)
    if mtp is not None:
        toggles["mtp_pre_norm"] = dict(mtp_pre_norm=True)
        toggles["mtp_hidden_first"] = dict(mtp_hidden_first=True)
    sens = {k: 0.0 for k in toggles}
    checks = dict(spec_vs_tf=0.0, spec_vs_tf_mtp=0.0 if mtp is not None else None,
                  from_pretrained_vs_tf=None, tf_mtpmodel_vs_ours=None)

    fp_model = None
    if not fx["fp8"]:
        # transformers' own loader on the hub-layout directory (its per-expert -> fused conversion)
        fp_model = tf_classes(c)[1].from_pretrained(d, dtype=torch.float32, attn_implementation="eager").eval()
        check_and_fix_oracle(fp_model, c, [])
        checks["from_pretrained_vs_tf"] = 0.0

    with torch.no_grad():
        for ids in seqs:
            it = torch.tensor([ids])
            out = model(input_ids=it, output_hidden_states=False)
            logits = out.logits[0].float()
            h_post = model.model(input_ids=it).last_hidden_state
            # lm_head(h_post) must equal the logits (i.e. last_hidden_state is post-norm)
            assert torch.allclose(model.lm_head(h_post)[0], logits, rtol=0, atol=1e-5)
            entry = OrderedDict(ids=ids, logits=[f32_list(r) for r in logits])
            ref_logits, ref_mtp = spec.forward(ids)
            checks["spec_vs_tf"] = max(checks["spec_vs_tf"], rel_err(logits, ref_logits))
            if fp_model is not None:
                lf = fp_model(input_ids=it).logits[0]
                checks["from_pretrained_vs_tf"] = max(checks["from_pretrained_vs_tf"], rel_err(lf, logits))
            if mtp is not None:
                ml = mtp(it, h_post, model.model.rotary_emb)[0].float()
                entry["mtp_logits"] = [f32_list(r) for r in ml]
                checks["spec_vs_tf_mtp"] = max(checks["spec_vs_tf_mtp"], rel_err(ml, ref_mtp))
                tm = tf_mtp_crosscheck(model, c, eff, it, h_post)
                if tm is not None:
                    v = rel_err(tm, ml)
                    checks["tf_mtpmodel_vs_ours"] = max(checks["tf_mtpmodel_vs_ours"] or 0.0, v)
            for tn, kw in toggles.items():
                sl, sm = SpecRef(c, eff, **kw).forward(ids)
                diff = rel_err(sl, ref_logits)
                if sm is not None:
                    diff = max(diff, rel_err(sm, ref_mtp))
                sens[tn] = max(sens[tn], diff)
            golden["sequences"].append(entry)

    write_golden(os.path.join(d, "golden.json"), golden)

    min_sel = min(m[0] for m in spec.margins) if spec.margins else None
    min_grp = min(m[1] for m in spec.margins) if spec.margins else None
    # Fail loudly if the oracle disagrees with the independent spec implementation, or if routing is
    # so close to a tie that a correct fp32 runtime could legitimately pick different experts.
    assert checks["spec_vs_tf"] < 1e-5, checks
    assert checks["spec_vs_tf_mtp"] is None or checks["spec_vs_tf_mtp"] < 1e-5, checks
    if checks["from_pretrained_vs_tf"] is not None:
        assert checks["from_pretrained_vs_tf"] < 1e-6, checks
    if checks["tf_mtpmodel_vs_ours"] is not None:
        assert checks["tf_mtpmodel_vs_ours"] < 1e-5, checks
    assert min_sel is None or min_sel > 1e-4, f"routing near-tie {min_sel}"
    assert min_grp is None or min_grp > 1e-4, f"group near-tie {min_grp}"
    for tn, v in sens.items():
        assert v > 1e-3, f"fixture not sensitive to pitfall {tn}: {v}"

    report[name] = OrderedDict(
        oracle_notes=notes or ["no oracle correction needed"],
        checks=checks, min_routing_margin=min_sel, min_group_margin=min_grp,
        pitfall_sensitivity_rel=sens,
        files={f: os.path.getsize(os.path.join(d, f)) for f in sorted(os.listdir(d))},
        max_abs_logit=max(max(abs(v) for r in s["logits"] for v in r) for s in golden["sequences"]),
    )
    return d


def build_sharded(src_dir, out_dir, report):
    """deepseek-v3-tiny split into 2 shards; layer 1's tensors straddle the boundary."""
    d = os.path.join(out_dir, SHARDED_NAME)
    os.makedirs(d, exist_ok=True)
    t = load_file(os.path.join(src_dir, "model.safetensors"))
    # natural (not alphabetical) order: embed, layers 0.., norm, lm_head
    def key(n):
        parts = n.split(".")
        if n.startswith("model.layers."):
            return (1, int(parts[2]), n)
        return ({"model.embed_tokens.weight": 0, "model.norm.weight": 2}.get(n, 3), 0, n)
    names = sorted(t, key=key)
    first = [n for n in names if n.startswith("model.embed_tokens") or n.startswith("model.layers.0.")]
    l1 = [n for n in names if n.startswith("model.layers.1.")]
    first += l1[: len(l1) // 2]
    second = [n for n in names if n not in set(first)]
    shards = OrderedDict([("model-00001-of-00002.safetensors", first), ("model-00002-of-00002.safetensors", second)])
    weight_map = {}
    total = 0
    for fn, ns in shards.items():
        save_file({n: t[n] for n in ns}, os.path.join(d, fn), metadata={"format": "pt"})
        for n in ns:
            weight_map[n] = fn
            total += t[n].numel() * t[n].element_size()
    idx = OrderedDict([("metadata", {"total_size": total}),
                       ("weight_map", OrderedDict(sorted(weight_map.items())))])
    with open(os.path.join(d, "model.safetensors.index.json"), "w") as f:
        json.dump(idx, f, indent=2)
        f.write("\n")
    shutil.copyfile(os.path.join(src_dir, "config.json"), os.path.join(d, "config.json"))
    with open(os.path.join(src_dir, "golden.json")) as f:
        g = f.read()
    with open(os.path.join(d, "golden.json"), "w") as f:
        f.write(g.replace(f'"model": "{SHARDED_SOURCE}"', f'"model": "{SHARDED_NAME}"', 1))
    # the sharded directory must load to the very same tensors and, through transformers, the same logits
    re = {}
    for fn in shards:
        re.update(load_file(os.path.join(d, fn)))
    assert set(re) == set(t) and all(re[n].dtype == t[n].dtype and torch.equal(re[n], t[n]) for n in t)
    c = json.load(open(os.path.join(d, "config.json")))
    m = tf_classes(c)[1].from_pretrained(d, dtype=torch.float32, attn_implementation="eager").eval()
    check_and_fix_oracle(m, c, [])
    gold = json.loads(g)
    err = 0.0
    with torch.no_grad():
        for s in gold["sequences"]:
            lg = m(input_ids=torch.tensor([s["ids"]])).logits[0]
            err = max(err, rel_err(lg, torch.tensor(s["logits"])))
    assert err < 1e-6, err
    split_layers = sorted({n.split(".")[2] for n in first if n.startswith("model.layers.")} &
                          {n.split(".")[2] for n in second if n.startswith("model.layers.")})
    report[SHARDED_NAME] = OrderedDict(
        layers_split_across_shards=split_layers, total_size=total,
        from_pretrained_vs_golden=err,
        files={f: os.path.getsize(os.path.join(d, f)) for f in sorted(os.listdir(d))})


def compare_dirs(a, b):
    """Return list of differences between two fixture trees (bytes for weights/config, 1e-6 rel for golden)."""
    diffs = []
    for name in sorted(set(os.listdir(a)) | set(os.listdir(b))):
        pa, pb = os.path.join(a, name), os.path.join(b, name)
        if not (os.path.isdir(pa) and os.path.isdir(pb)):
            diffs.append(f"{name}: missing on one side")
            continue
        for f in sorted(set(os.listdir(pa)) | set(os.listdir(pb))):
            if f.startswith("golden-int"):
                continue  # written by make_quantized_golden.py from these fixtures, not by this script
            fa, fb = os.path.join(pa, f), os.path.join(pb, f)
            if not (os.path.exists(fa) and os.path.exists(fb)):
                diffs.append(f"{name}/{f}: missing on one side")
            elif f == "golden.json":
                ga, gb = json.load(open(fa)), json.load(open(fb))
                for sa, sb in zip(ga["sequences"], gb["sequences"]):
                    if sa["ids"] != sb["ids"]:
                        diffs.append(f"{name}/{f}: ids differ")
                    for k in ("logits", "mtp_logits"):
                        if k in sa and rel_err(sa[k], sb[k]) > 1e-6:
                            diffs.append(f"{name}/{f}: {k} differ by {rel_err(sa[k], sb[k]):.3g}")
            else:
                if open(fa, "rb").read() != open(fb, "rb").read():
                    diffs.append(f"{name}/{f}: bytes differ")
    return diffs


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=DEFAULT_OUT, help="output directory (default: tests/fixtures)")
    ap.add_argument("--only", action="append", choices=list(FIXTURES) + [SHARDED_NAME],
                    help="build only this fixture (repeatable)")
    ap.add_argument("--verify", action="store_true",
                    help="regenerate into a temp dir and compare with --out instead of writing")
    ap.add_argument("--report", help="write the check report (JSON) here")
    args = ap.parse_args(argv)
    torch.manual_seed(0)
    out = args.out
    if args.verify:
        tmp = tempfile.mkdtemp(prefix="fathom-fixtures-")
        out = tmp
    names = args.only or list(FIXTURES) + [SHARDED_NAME]
    report = OrderedDict()
    for name in names:
        if name == SHARDED_NAME:
            src = os.path.join(out, SHARDED_SOURCE)
            if not os.path.exists(os.path.join(src, "golden.json")):
                build_fixture(SHARDED_SOURCE, FIXTURES[SHARDED_SOURCE], out, report)
            build_sharded(src, out, report)
        else:
            build_fixture(name, FIXTURES[name], out, report)
        print(f"[{name}] " + json.dumps(report.get(name), default=str), flush=True)
    if args.report:
        with open(args.report, "w") as f:
            json.dump(report, f, indent=2, default=str)
    if args.verify:
        diffs = compare_dirs(os.path.join(tmp), args.out) if not args.only else [
            d for n in names for d in compare_dirs(os.path.join(tmp), args.out) if d.startswith(n + "/")]
        shutil.rmtree(tmp)
        if diffs:
            print("VERIFY FAILED:\n  " + "\n  ".join(diffs))
            return 1
        print("VERIFY OK: regenerated fixtures match", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
