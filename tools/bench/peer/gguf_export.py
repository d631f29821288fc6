"""Write a Fathom DeepSeek checkpoint (config.json + bf16 model.safetensors + tokenizer.json) as a
GGUF file of llama.cpp's `deepseek2` architecture, with the `gguf` package.

Written here rather than with llama.cpp's convert_hf_to_gguf.py, which needs torch and
transformers; the layout below follows what llama.cpp's deepseek2 loader asks for:

* MLA in absorbed form: kv_b_proj [H*(d_nope+d_v), C] is split per head into W_UK, stored
  transposed as attn_k_b [H, C, d_nope], and W_UV as attn_v_b [H, d_v, C];
  attention.head_count_kv = 1 and key/value lengths are those of the latent (C + d_rope, C), with
  the per-head lengths in the *_mla keys.
* Routed experts stacked into one [E, out, in] tensor per projection.
* RoPE: llama.cpp's deepseek2 rotates adjacent pairs (the official convention), so q/k rows are
  not permuted. YaRN parameters from rope_scaling; llama.cpp wants 0.1*mscale_all_dim as the
  "yarn log multiplier" (its loader divides by 0.1 again).
* Routing: gating function (softmax/sigmoid), routed_scaling_factor, norm_topk_prob, groups and
  the router bias of noaux_tc are all carried.
* q_lora_rank is written even when absent (as 0): llama.cpp only treats a model without it as
  "lite" when it has exactly 27 layers (V2-Lite's), and otherwise requires the key.

Weights keep their stored precision: bf16 (or f16 with --dtype f16: bf16 -> f16 is exact for
these magnitudes apart from values below f16's normal range). Norms and the router stay f32, as
llama.cpp keeps them, which is exact for bf16 sources.
"""
import json
from pathlib import Path

import gguf
import numpy as np

from safetensors_view import SafetensorsView

T = gguf.MODEL_TENSOR


def _name(kind: "gguf.MODEL_TENSOR", layer: int | None = None, suffix: str = "weight") -> str:
    base = gguf.TENSOR_NAMES[kind]
    return (base.format(bid=layer) if layer is not None else base) + "." + suffix


class _Weights:
    """Converts stored tensors to the GGUF dtype chosen for matrices (bf16 or f16) or to f32."""

    def __init__(self, view: SafetensorsView, matrix_dtype: str):
        self.view = view
        self.matrix_dtype = matrix_dtype

    def f32(self, name: str) -> np.ndarray:
        return self._as_f32(self.view.tensor(name), self.view.dtype(name))

    def matrix(self, array: np.ndarray, stored: str) -> tuple[np.ndarray, "gguf.GGMLQuantizationType | None"]:
        if self.matrix_dtype == "bf16":
            if stored != "BF16":
                raise ValueError("bf16 GGUF needs a bf16 checkpoint")
            return np.ascontiguousarray(array), gguf.GGMLQuantizationType.BF16
        return np.ascontiguousarray(self._as_f32(array, stored).astype(np.float16)), None

    @staticmethod
    def _as_f32(array: np.ndarray, stored: str) -> np.ndarray:
        if stored == "BF16":
            return (array.astype(np.uint32) << 16).view(np.float32)
        return array.astype(np.float32)


def _write_metadata(w: "gguf.GGUFWriter", cfg: dict, tok_count: int) -> None:
    nope, rope, v, kv_lora = cfg["qk_nope_head_dim"], cfg["qk_rope_head_dim"], cfg["v_head_dim"], cfg["kv_lora_rank"]
    w.add_block_count(cfg["num_hidden_layers"])
    w.add_context_length(cfg["max_position_embeddings"])
    w.add_embedding_length(cfg["hidden_size"])
    w.add_feed_forward_length(cfg["intermediate_size"])
    w.add_head_count(cfg["num_attention_heads"])
    w.add_head_count_kv(1)
    w.add_layer_norm_rms_eps(cfg["rms_norm_eps"])
    w.add_vocab_size(tok_count)
    w.add_leading_dense_block_count(cfg["first_k_dense_replace"])
    w.add_q_lora_rank(cfg.get("q_lora_rank") or 0)
    w.add_kv_lora_rank(kv_lora)
    w.add_key_length(kv_lora + rope)
    w.add_value_length(kv_lora)
    w.add_key_length_mla(nope + rope)
    w.add_value_length_mla(v)
    w.add_expert_feed_forward_length(cfg["moe_intermediate_size"])
    w.add_expert_count(cfg["n_routed_experts"])
    w.add_expert_used_count(cfg["num_experts_per_tok"])
    w.add_expert_shared_count(cfg["n_shared_experts"])
    w.add_expert_group_count(cfg.get("n_group") or 1)
    w.add_expert_group_used_count(cfg.get("topk_group") or 1)
    w.add_expert_weights_scale(float(cfg["routed_scaling_factor"]))
    w.add_expert_weights_norm(bool(cfg["norm_topk_prob"]))
    gating = {"softmax": gguf.ExpertGatingFuncType.SOFTMAX, "sigmoid": gguf.ExpertGatingFuncType.SIGMOID}
    w.add_expert_gating_func(gating[cfg["scoring_func"]])
    w.add_rope_dimension_count(rope)
    w.add_rope_freq_base(float(cfg["rope_theta"]))
    ys = cfg.get("rope_scaling")
    if ys:
        w.add_rope_scaling_type(gguf.RopeScalingType.YARN)
        w.add_rope_scaling_factor(float(ys["factor"]))
        w.add_rope_scaling_orig_ctx_len(int(ys["original_max_position_embeddings"]))
        w.add_rope_scaling_yarn_beta_fast(float(ys.get("beta_fast", 32)))
        w.add_rope_scaling_yarn_beta_slow(float(ys.get("beta_slow", 1)))
        w.add_rope_scaling_yarn_log_mul(0.1 * float(ys.get("mscale_all_dim", 0)))


def _write_tokenizer(w: "gguf.GGUFWriter", model_dir: Path, cfg: dict) -> int:
    """BPE vocabulary and merges from tokenizer.json; the ids are what matters here (the benchmark
    feeds token ids), but the vocabulary must load: llama.cpp knows this pre-tokenizer as
    'deepseek-v3'."""
    tj = json.loads((model_dir / "tokenizer.json").read_text(encoding="utf-8"))
    by_id: dict[int, tuple[str, int]] = {i: (t, gguf.TokenType.NORMAL) for t, i in tj["model"]["vocab"].items()}
    for a in tj.get("added_tokens", []):
        by_id[a["id"]] = (a["content"], gguf.TokenType.CONTROL if a.get("special") else gguf.TokenType.USER_DEFINED)
    count = max(cfg["vocab_size"], max(by_id) + 1)
    tokens, types = [], []
    for i in range(count):
        text, kind = by_id.get(i, (f"[PAD{i}]", gguf.TokenType.UNUSED))
        tokens.append(text)
        types.append(kind)
    merges = [m if isinstance(m, str) else " ".join(m) for m in tj["model"]["merges"]]
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("deepseek-v3")
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges(merges)
    w.add_bos_token_id(cfg["bos_token_id"])
    w.add_eos_token_id(cfg["eos_token_id"])
    w.add_add_bos_token(False)
    return count


def _add_matrix(w, weights: _Weights, gguf_name: str, array: np.ndarray, stored: str) -> None:
    data, raw = weights.matrix(array, stored)
    w.add_tensor(gguf_name, data, raw_dtype=raw)


def _write_layer(w, weights: _Weights, cfg: dict, i: int) -> None:
    view, p = weights.view, f"model.layers.{i}."
    heads, nope, v, kv_lora = cfg["num_attention_heads"], cfg["qk_nope_head_dim"], cfg["v_head_dim"], cfg["kv_lora_rank"]

    def mat(kind, hf):
        _add_matrix(w, weights, _name(kind, i), view.tensor(p + hf), view.dtype(p + hf))

    w.add_tensor(_name(T.ATTN_NORM, i), weights.f32(p + "input_layernorm.weight"))
    w.add_tensor(_name(T.FFN_NORM, i), weights.f32(p + "post_attention_layernorm.weight"))
    w.add_tensor(_name(T.ATTN_KV_A_NORM, i), weights.f32(p + "self_attn.kv_a_layernorm.weight"))
    if cfg.get("q_lora_rank"):
        w.add_tensor(_name(T.ATTN_Q_A_NORM, i), weights.f32(p + "self_attn.q_a_layernorm.weight"))
        mat(T.ATTN_Q_A, "self_attn.q_a_proj.weight")
        mat(T.ATTN_Q_B, "self_attn.q_b_proj.weight")
    else:
        mat(T.ATTN_Q, "self_attn.q_proj.weight")
    mat(T.ATTN_KV_A_MQA, "self_attn.kv_a_proj_with_mqa.weight")
    mat(T.ATTN_OUT, "self_attn.o_proj.weight")
    kv_b_name = p + "self_attn.kv_b_proj.weight"
    kv_b = view.tensor(kv_b_name).reshape(heads, nope + v, kv_lora)
    _add_matrix(w, weights, _name(T.ATTN_K_B, i), kv_b[:, :nope, :].transpose(0, 2, 1), view.dtype(kv_b_name))
    _add_matrix(w, weights, _name(T.ATTN_V_B, i), kv_b[:, nope:, :], view.dtype(kv_b_name))

    if i < cfg["first_k_dense_replace"]:
        mat(T.FFN_GATE, "mlp.gate_proj.weight")
        mat(T.FFN_UP, "mlp.up_proj.weight")
        mat(T.FFN_DOWN, "mlp.down_proj.weight")
        return
    w.add_tensor(_name(T.FFN_GATE_INP, i), weights.f32(p + "mlp.gate.weight"))
    if p + "mlp.gate.e_score_correction_bias" in view.names():
        w.add_tensor(_name(T.FFN_EXP_PROBS_B, i, "bias"), weights.f32(p + "mlp.gate.e_score_correction_bias"))
    for kind, proj in ((T.FFN_GATE_EXP, "gate_proj"), (T.FFN_UP_EXP, "up_proj"), (T.FFN_DOWN_EXP, "down_proj")):
        names = [f"{p}mlp.experts.{e}.{proj}.weight" for e in range(cfg["n_routed_experts"])]
        stacked = np.stack([view.tensor(n) for n in names])
        _add_matrix(w, weights, _name(kind, i), stacked, view.dtype(names[0]))
    for kind, proj in ((T.FFN_GATE_SHEXP, "gate_proj"), (T.FFN_UP_SHEXP, "up_proj"), (T.FFN_DOWN_SHEXP, "down_proj")):
        mat(kind, f"mlp.shared_experts.{proj}.weight")


def export_gguf(model_dir: Path, out_path: Path, matrix_dtype: str = "bf16") -> None:
    cfg = json.loads((model_dir / "config.json").read_text())
    if cfg.get("quantization_config"):
        raise ValueError("FP8 checkpoint: make the benchmark model without --fp8 (bf16 weights)")
    weights = _Weights(SafetensorsView(model_dir / "model.safetensors"), matrix_dtype)
    w = gguf.GGUFWriter(out_path, "deepseek2")
    w.add_name(f"fathom benchmark model ({model_dir.name})")
    w.add_file_type(gguf.LlamaFileType.MOSTLY_BF16 if matrix_dtype == "bf16" else gguf.LlamaFileType.MOSTLY_F16)
    token_count = _write_tokenizer(w, model_dir, cfg)
    _write_metadata(w, cfg, token_count)

    view = weights.view
    _add_matrix(w, weights, _name(T.TOKEN_EMBD), view.tensor("model.embed_tokens.weight"), view.dtype("model.embed_tokens.weight"))
    w.add_tensor(_name(T.OUTPUT_NORM), weights.f32("model.norm.weight"))
    _add_matrix(w, weights, _name(T.OUTPUT), view.tensor("lm_head.weight"), view.dtype("lm_head.weight"))
    for i in range(cfg["num_hidden_layers"]):
        _write_layer(w, weights, cfg, i)

    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file(progress=False)
    w.close()
