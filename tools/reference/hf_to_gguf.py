"""Writes a Hugging Face DeepSeek checkpoint as a GGUF file the way llama.cpp's converter does.

The files of Fathom's GGUF tests (tests/gguf) and of the peer benchmark against llama.cpp
(tools/bench/compare_llamacpp.py, which also checks that llama.cpp reads them to the same logits as
Fathom reads the checkpoint). Tensor names come from gguf-py's own name map for the
`deepseek2` architecture, the container and the number formats from gguf-py's writer and
quantisers, and the rest follows `convert_hf_to_gguf.py` (class DeepseekV2Model): routed experts
stacked into one 3-D tensor per projection, `kv_b_proj` split per head into `attn_k_b`
(transposed) and `attn_v_b` (or kept whole with --keep-kv-b, as converters before 2025 did),
norms and the router kept in F32, the metadata keys it writes, and the vocabulary with its token
types. It reads safetensors with numpy alone (no torch), so it runs in the tests' venv.
Weights that are BF16 stay exact in f32 and bf16; f16 rounds values below its normal range.

One departure, on request (--zero-q-lora-rank): llama.cpp treats a model without
attention.q_lora_rank as V2-Lite only when it has exactly 27 layers, so the benchmark's shortened
V2-Lite-shaped models carry the key as 0 (which Fathom, like config.json's null, reads as "no q LoRA").

    python hf_to_gguf.py MODEL_DIR OUT.gguf [--outtype f32|f16|bf16|q8_0|q4_0|q4_k_m|q5_k_m|q6_k|iq4_xs
                                              |iq3_s|iq3_xxs|iq2_s|iq2_xs|iq2_xxs|iq1_m|iq1_s] [--keep-kv-b]
                         [--tokenizer DIR] [--split-max-tensors N]
    python hf_to_gguf.py --vocab-only VOCAB_SIZE TOKENIZER_DIR OUT.gguf   # the tokenizer alone
"""

import argparse
import json
import struct
from pathlib import Path

import gguf
import numpy as np

import kquants  # beside this file


def read_safetensors(path):
    """name -> float32 array (BF16/F16/F32 files)."""
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    data = raw[8 + n:]
    out = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        begin, end = entry["data_offsets"]
        buf = np.frombuffer(data[begin:end], dtype={"BF16": np.uint16, "F16": np.float16, "F32": np.float32}[entry["dtype"]])
        if entry["dtype"] == "BF16":
            buf = (buf.astype(np.uint32) << 16).view(np.float32)
        out[name] = buf.astype(np.float32).reshape(entry["shape"])
    return out


def read_checkpoint(model_dir):
    index = model_dir / "model.safetensors.index.json"
    if index.exists():
        tensors = {}
        for shard in sorted(set(json.loads(index.read_text())["weight_map"].values())):
            tensors.update(read_safetensors(model_dir / shard))
        return tensors
    return read_safetensors(model_dir / "model.safetensors")


def write_metadata(w, c, zero_q_lora_rank=False):
    w.add_context_length(c["max_position_embeddings"])
    w.add_embedding_length(c["hidden_size"])
    w.add_block_count(c["num_hidden_layers"])
    w.add_feed_forward_length(c["intermediate_size"])
    w.add_head_count(c["num_attention_heads"])
    w.add_head_count_kv(1)  # MLA written as MQA over the latent
    w.add_rope_freq_base(c.get("rope_theta", 10000.0))
    w.add_layer_norm_rms_eps(c.get("rms_norm_eps", 1e-6))
    w.add_expert_used_count(c["num_experts_per_tok"])
    if "n_group" in c:
        w.add_expert_group_count(c["n_group"])
    if "topk_group" in c:
        w.add_expert_group_used_count(c["topk_group"])
    w.add_expert_gating_func(gguf.ExpertGatingFuncType.SIGMOID if c.get("scoring_func") == "sigmoid"
                             else gguf.ExpertGatingFuncType.SOFTMAX)
    rope = c.get("rope_scaling")
    if rope and rope.get("type", rope.get("rope_type")) == "yarn":
        w.add_rope_scaling_type(gguf.RopeScalingType.YARN)
        w.add_rope_scaling_factor(rope["factor"])
        w.add_rope_scaling_orig_ctx_len(rope["original_max_position_embeddings"])
        w.add_rope_scaling_yarn_beta_fast(float(rope.get("beta_fast", 32)))
        w.add_rope_scaling_yarn_beta_slow(float(rope.get("beta_slow", 1)))
    w.add_leading_dense_block_count(c["first_k_dense_replace"])
    w.add_vocab_size(c["vocab_size"])
    if c.get("q_lora_rank") or zero_q_lora_rank:
        w.add_q_lora_rank(c.get("q_lora_rank") or 0)
    w.add_kv_lora_rank(c["kv_lora_rank"])
    w.add_key_length(c["kv_lora_rank"] + c["qk_rope_head_dim"])
    w.add_value_length(c["kv_lora_rank"])
    w.add_key_length_mla(c["qk_nope_head_dim"] + c["qk_rope_head_dim"])
    w.add_value_length_mla(c["v_head_dim"])
    w.add_expert_feed_forward_length(c["moe_intermediate_size"])
    w.add_expert_count(c["n_routed_experts"])
    w.add_expert_shared_count(c["n_shared_experts"])
    if c.get("routed_scaling_factor") is not None:
        w.add_expert_weights_scale(c["routed_scaling_factor"])
    if c.get("norm_topk_prob"):
        w.add_expert_weights_norm(True)
    w.add_rope_dimension_count(c["qk_rope_head_dim"])
    if rope and rope.get("mscale_all_dim") is not None:
        w.add_rope_scaling_yarn_log_mul(0.1 * rope["mscale_all_dim"])


def looks_special(text):
    return (text.startswith("<|") and text.endswith("|>")) or (text.startswith("<｜") and text.endswith("｜>"))


def write_vocab(w, tokenizer_dir, vocab_size):
    t = json.loads((tokenizer_dir / "tokenizer.json").read_text())
    by_id = {i: (tok, None) for tok, i in t["model"]["vocab"].items()}
    for a in t["added_tokens"]:
        by_id[a["id"]] = (a["content"], a)
    tokens, types = [], []
    for i in range(vocab_size):
        if i not in by_id:
            tokens.append(f"[PAD{i}]")
            types.append(gguf.TokenType.UNUSED)
            continue
        text, added = by_id[i]
        tokens.append(text)
        if added is None:
            types.append(gguf.TokenType.NORMAL)
        elif added["special"] or looks_special(text):
            types.append(gguf.TokenType.CONTROL)
        else:
            types.append(gguf.TokenType.USER_DEFINED)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("deepseek-v3")
    w.add_token_list(tokens)
    w.add_token_types(types)
    # Written even when empty (the demo tokenizer has none): llama.cpp requires the key.
    w.add_token_merges([m if isinstance(m, str) else " ".join(m) for m in t["model"]["merges"]])
    gguf.SpecialVocab(tokenizer_dir, load_merges=False).add_to_gguf(w)


def kept_f32(gguf_name, array):
    # As the converter: 1-D tensors (norms, the router's bias) and the router stay F32.
    return array.ndim == 1 or ".ffn_gate_inp." in gguf_name


# The K-quant mixes, after llama-quantize's choices per tensor (simplified: its rules for attn_v and
# the other tensors DeepSeek does not have are left out): Q6_K for the output matrix; for ffn_down,
# more bits in the layers that "use more bits" (the first and last eighth, and every third
# between); the mix's own type elsewhere (Q3_K_M: Q4_K for attn_output).
K_MIXES = {"q2_k": "q2_k", "q3_k_m": "q3_k", "q4_k_m": "q4_k", "q5_k_m": "q5_k", "q6_k": "q6_k", "iq4_xs": "iq4_xs"}
# The I-quant mixes below 4 bits (llama-quantize's IQ3_S ... IQ1_S as it makes them without an
# importance matrix, which it asks for below IQ3_XXS), with the same simplifications: Q5_K for the
# output matrix (IQ3_S: Q6_K); token_embd in Q2_K, or IQ3_S from IQ2_S up; more bits for attn_output
# (IQ1: IQ2_XXS; IQ2_S, IQ3_XXS: IQ3_S) and for ffn_down in the first eighth of the layers (Q2_K; IQ2_S:
# IQ3_S; IQ3_XXS's ffn_down is Q3_K, Q4_K there); IQ3_XXS's attn_q (V2-Lite) in IQ2_S.
I_MIXES = ["iq3_s", "iq3_xxs", "iq2_s", "iq2_xs", "iq2_xxs", "iq1_m", "iq1_s"]
K_MIXES.update({kind: kind for kind in I_MIXES})
# Where a row is not whole blocks of 256, llama-quantize falls back to a type with blocks of 32.
K_FALLBACKS = {"q2_k": "iq4_nl", "q3_k": "iq4_nl", "q4_k": "q5_0", "q5_k": "q5_1", "q6_k": "q8_0", "iq4_xs": "iq4_nl",
               **{kind: "iq4_nl" for kind in I_MIXES}}


def uses_more_bits(layer, n_layers):
    return layer < n_layers // 8 or layer >= 7 * n_layers // 8 or (layer - n_layers // 8) % 3 == 2


def i_quant_type(name, outtype, n_layers):
    if name == "output.weight":
        return "q6_k" if outtype == "iq3_s" else "q5_k"
    if name == "token_embd.weight":
        return "iq3_s" if outtype in ("iq3_s", "iq3_xxs", "iq2_s") else "q2_k"
    first_eighth = name.startswith("blk.") and int(name.split(".")[1]) < n_layers // 8
    if ".ffn_down" in name:
        if outtype == "iq3_xxs":
            return "q4_k" if first_eighth else "q3_k"
        if first_eighth and outtype != "iq3_s":
            return "iq3_s" if outtype == "iq2_s" else "q2_k"
    if ".attn_output" in name:
        return {"iq1_s": "iq2_xxs", "iq1_m": "iq2_xxs", "iq2_s": "iq3_s", "iq3_xxs": "iq3_s"}.get(outtype, outtype)
    if ".attn_q." in name and outtype == "iq3_xxs":
        return "iq2_s"
    return outtype


def k_quant_type(name, outtype, n_layers):
    if outtype in I_MIXES:
        return i_quant_type(name, outtype, n_layers)
    if name == "output.weight" or outtype == "q6_k":
        return "q6_k"
    layer = int(name.split(".")[1]) if name.startswith("blk.") else -1
    if layer >= 0 and ".ffn_down" in name:
        if outtype == "q2_k":
            return "q3_k"
        if outtype == "q3_k_m":
            return "q5_k" if layer < n_layers // 16 else "q4_k" if uses_more_bits(layer, n_layers) else "q3_k"
        if outtype == "iq4_xs":
            return "iq4_xs"
        if uses_more_bits(layer, n_layers):
            return "q6_k"
    if outtype == "q3_k_m" and ".attn_output" in name:
        return "q4_k"
    return K_MIXES[outtype]


GGUF_TYPES = {"f16": gguf.GGMLQuantizationType.F16, "bf16": gguf.GGMLQuantizationType.BF16,
              "q8_0": gguf.GGMLQuantizationType.Q8_0, "q4_0": gguf.GGMLQuantizationType.Q4_0,
              "q4_1": gguf.GGMLQuantizationType.Q4_1, "q5_0": gguf.GGMLQuantizationType.Q5_0,
              "q5_1": gguf.GGMLQuantizationType.Q5_1}


def add_tensor(w, name, array, outtype, n_layers=0):
    if outtype == "f32" or kept_f32(name, array):
        w.add_tensor(name, array.astype(np.float32))
        return
    if outtype in K_MIXES:
        kind = k_quant_type(name, outtype, n_layers)
        if array.shape[-1] % kquants.QK_K != 0:
            kind = K_FALLBACKS[kind]
        if kind in kquants.BLOCK_BYTES and array.shape[-1] % kquants.BLOCK_WEIGHTS.get(kind, kquants.QK_K) == 0:
            w.add_tensor(name, kquants.quantize(array, kind), raw_dtype=getattr(gguf.GGMLQuantizationType, kind.upper()))
            return
        outtype = kind
    qtype = GGUF_TYPES[outtype]
    try:
        data = gguf.quants.quantize(array, qtype)
    except gguf.QuantError:  # rows that are not whole blocks: the converter falls back to F16
        qtype = gguf.GGMLQuantizationType.F16
        data = gguf.quants.quantize(array, qtype)
    w.add_tensor(name, data, raw_dtype=qtype)


def convert(model_dir, out, outtype="bf16", keep_kv_b=False, tokenizer_dir=None, zero_q_lora_rank=False,
            split_max_tensors=0):
    c = json.loads((model_dir / "config.json").read_text())
    if c.get("quantization_config"):
        raise SystemExit(f"{model_dir}: an FP8 checkpoint; write it with bf16 weights (make-tiny without --fp8)")
    n_layers = c["num_hidden_layers"]
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.DEEPSEEK2, n_layers)
    tensors = read_checkpoint(model_dir)
    # Split into parts as convert_hf_to_gguf.py --split-max-tensors does: OUT-00001-of-0000N.gguf ...
    w = gguf.GGUFWriter(str(out), "deepseek2", split_max_tensors=split_max_tensors)
    w.add_name(model_dir.name)
    write_metadata(w, c, zero_q_lora_rank)
    if tokenizer_dir is not None:
        write_vocab(w, tokenizer_dir, c["vocab_size"])

    def gguf_name(hf):
        hf = hf.replace("e_score_correction_bias", "e_score_correction.bias")
        mapped = names.get_name(hf, try_suffixes=(".weight", ".bias"))
        if mapped is None:
            raise SystemExit(f"no GGUF name for {hf}")
        return mapped

    experts = {}
    for hf, array in sorted(tensors.items()):
        parts = hf.split(".")
        if hf.startswith("model.layers.") and int(parts[2]) >= n_layers:
            continue  # the MTP module: the converter skips it
        if ".mlp.experts." in hf:
            experts[hf] = array
            continue
        if hf.endswith("kv_b_proj.weight") and not keep_kv_b:
            heads, nope, value = c["num_attention_heads"], c["qk_nope_head_dim"], c["v_head_dim"]
            kv_b = array.reshape(heads, nope + value, array.shape[-1])
            k_b = np.ascontiguousarray(kv_b[:, :nope, :].transpose(0, 2, 1))
            v_b = np.ascontiguousarray(kv_b[:, nope:, :])
            add_tensor(w, gguf_name(hf.replace("kv_b_proj", "k_b_proj")), k_b, outtype, n_layers)
            add_tensor(w, gguf_name(hf.replace("kv_b_proj", "v_b_proj")), v_b, outtype, n_layers)
            continue
        add_tensor(w, gguf_name(hf), array, outtype, n_layers)
    for layer in range(n_layers):
        for projection in ("down_proj", "gate_proj", "up_proj"):
            stack = [experts.pop(f"model.layers.{layer}.mlp.experts.{e}.{projection}.weight", None)
                     for e in range(c["n_routed_experts"])]
            if stack[0] is None:
                continue
            add_tensor(w, gguf_name(f"model.layers.{layer}.mlp.experts.{projection}.weight"), np.stack(stack), outtype,
                       n_layers)
    assert not experts, f"unstacked experts: {sorted(experts)[:3]}"

    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def write_vocab_only(tokenizer_dir, out, vocab_size):
    w = gguf.GGUFWriter(str(out), "deepseek2")
    write_vocab(w, tokenizer_dir, vocab_size)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.close()


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--vocab-only", type=int, metavar="VOCAB_SIZE", help="write only the tokenizer of MODEL_DIR")
    p.add_argument("model_dir", type=Path)
    p.add_argument("out", type=Path)
    p.add_argument("--outtype", default="bf16", choices=["f32", "f16", "bf16", "q8_0", "q4_0", "q4_1", "q5_0", "q5_1",
                                                         *K_MIXES],
                   help="q2_k ... q6_k, iq4_xs ... iq1_s: llama-quantize's mixes of K- and I-quants (kquants.py "
                        "writes the blocks)")
    p.add_argument("--keep-kv-b", action="store_true", help="write attn_kv_b whole, as converters before 2025 did")
    p.add_argument("--tokenizer", type=Path, help="directory of tokenizer.json (default: the model directory)")
    p.add_argument("--zero-q-lora-rank", action="store_true", help="write attention.q_lora_rank = 0 when absent")
    p.add_argument("--split-max-tensors", type=int, default=0, metavar="N",
                   help="write parts of at most N tensors (OUT-00001-of-0000K.gguf, ...), as llama-gguf-split does")
    a = p.parse_args()
    if a.vocab_only:
        write_vocab_only(a.model_dir, a.out, a.vocab_only)
        return
    tokenizer_dir = a.tokenizer or a.model_dir
    convert(a.model_dir, a.out, a.outtype, a.keep_kv_b,
            tokenizer_dir if (tokenizer_dir / "tokenizer.json").exists() else None, a.zero_q_lora_rank,
            a.split_max_tensors)


if __name__ == "__main__":
    main()
