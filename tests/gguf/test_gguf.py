"""Fathom reads DeepSeek models in llama.cpp's GGUF format.

Oracles: the Hugging Face transformers logits of the golden fixtures (tests/fixtures/*/golden.json),
DeepSeek-V3's real tokenizer and the token ids it gives (../shared), and gguf-py, llama.cpp's own
writer, for the files (tools/reference/hf_to_gguf.py converts as llama.cpp's converter does).
"""

import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import gguf
import numpy as np
import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT / "tools" / "reference"))
import kquants  # noqa: E402  (the K-quant writer of the test files)
FIXTURES = ROOT / "tests" / "fixtures"
SHARED = Path(os.environ.get("FATHOM_SHARED_DIR", ROOT.parent / "shared"))
V3_TOKENIZER = SHARED / "models" / "deepseek-v3-tokenizer"
TOKENIZER_DATA = SHARED / "testdata"
CONVERTER = ROOT / "tools" / "reference" / "hf_to_gguf.py"
FATHOM = os.environ.get("FATHOM_BIN", str(ROOT / "build" / "bin" / "fathom"))


def convert(tmp_path_factory, model_dir, outtype="bf16", keep_kv_b=False, tokenizer=None, name=None, *extra):
    out = tmp_path_factory.mktemp("gguf") / (name or f"{Path(model_dir).name}-{outtype}.gguf")
    args = [sys.executable, str(CONVERTER), str(model_dir), str(out), "--outtype", outtype, *extra]
    if keep_kv_b:
        args.append("--keep-kv-b")
    if tokenizer:
        args += ["--tokenizer", str(tokenizer)]
    subprocess.run(args, check=True)
    return out


def fathom(*args, check=True):
    r = subprocess.run([FATHOM, *map(str, args)], capture_output=True, text=True)
    if check and r.returncode != 0:
        raise AssertionError(f"fathom {' '.join(map(str, args))} failed ({r.returncode}):\n{r.stderr}")
    return r


def logits(model, ids, decode=False):
    args = ["logits", "--model", model, "--ids", ",".join(map(str, ids))]
    if decode:
        args.append("--decode")
    return np.array(json.loads(fathom(*args).stdout)["logits"])


def relative_error(got, want):
    return float(np.max(np.abs(got - want)) / np.max(np.abs(want)))


# f32 and bf16 hold the fixtures' bf16 weights exactly; f16 rounds the smallest of them.
TOLERANCE = {"f32": 1e-4, "bf16": 1e-4, "f16": 5e-3}


@pytest.mark.parametrize("fixture", ["deepseek-v3-tiny", "deepseek-v2-lite-tiny", "deepseek-v3-tiny-sharded"])
@pytest.mark.parametrize("outtype", ["f32", "bf16", "f16"])
@pytest.mark.parametrize("keep_kv_b", [False, True], ids=["split-kv-b", "whole-kv-b"])
def test_logits_match_transformers(tmp_path_factory, fixture, outtype, keep_kv_b):
    model = convert(tmp_path_factory, FIXTURES / fixture, outtype, keep_kv_b)
    golden = json.loads((FIXTURES / fixture / "golden.json").read_text())
    for seq in golden["sequences"]:
        want = np.array(seq["logits"])
        got = logits(model, seq["ids"])
        assert got.shape == want.shape
        error = relative_error(got, want)
        assert error <= TOLERANCE[outtype], f"{fixture} {outtype}: relative error {error:.2e}"
        assert (got.argmax(-1) == want.argmax(-1)).all() or outtype == "f16"


def test_inspect_describes_the_file(tmp_path_factory):
    model = convert(tmp_path_factory, FIXTURES / "deepseek-v3-tiny", "bf16")
    out = fathom("inspect", "--model", model).stdout
    assert "model_type: deepseek_v3" in out and "matches config.json" in out
    assert "GGUF v3: " in out and "BF16" in out and "F32" in out
    assert "quantization: none" in out


def test_inspect_tells_the_quantisation_of_a_file(tmp_path_factory, k_model):
    model = convert(tmp_path_factory, k_model, "q2_k")
    out = fathom("inspect", "--model", model).stdout
    line = next(x for x in out.splitlines() if x.startswith("quantization: "))
    bits = float(line.split(", ")[1].split()[0])
    # bytes · 8 over the weights, from the file itself (gguf-py's reading of it)
    reader = gguf.GGUFReader(model)
    assert "GGUF blocks" in line and "Q2_K" in out
    assert abs(bits - sum(int(t.n_bytes) for t in reader.tensors) * 8 / sum(int(t.n_elements) for t in reader.tensors)) < 0.05


def test_a_model_split_into_parts_is_read_whole(tmp_path_factory):
    """Parts as llama-gguf-split writes them (metadata in the first): the same logits, from any part."""
    fixture = FIXTURES / "deepseek-v3-tiny"
    whole = convert(tmp_path_factory, fixture, "bf16")
    first = convert(tmp_path_factory, fixture, "bf16", False, None, "v3.gguf", "--split-max-tensors", "12")
    parts = sorted(first.parent.glob("v3-*-of-*.gguf"))
    assert len(parts) >= 3 and parts[0].name.startswith("v3-00001-of-")
    ids = json.loads((fixture / "golden.json").read_text())["sequences"][0]["ids"]
    want = logits(whole, ids)
    for part in (parts[0], parts[-1]):
        assert np.array_equal(logits(part, ids), want), part.name
    out = fathom("inspect", "--model", parts[1]).stdout
    assert fathom("inspect", "--model", whole).stdout.split("GGUF v3: ")[1].splitlines()[0] in out
    parts[1].unlink()
    r = fathom("logits", "--model", parts[0], "--ids", "1,2", check=False)
    assert r.returncode != 0 and parts[1].name in r.stderr and "does not exist" in r.stderr


def test_decode_steps_match_transformers(tmp_path_factory):
    """The absorbed attention of decode steps reads kv_b_proj rebuilt from attn_k_b and attn_v_b."""
    model = convert(tmp_path_factory, FIXTURES / "deepseek-v3-tiny", "f32")
    golden = json.loads((FIXTURES / "deepseek-v3-tiny" / "golden.json").read_text())
    seq = golden["sequences"][0]
    assert relative_error(logits(model, seq["ids"], decode=True), np.array(seq["logits"])) <= 1e-4


def dequantised_twin(tmp_path_factory, fixture, quantised, keep_kv_b):
    """An F32 GGUF of `fixture` (a fixture's name or a model directory) holding exactly the values
    of the quantised file's tensors, as gguf-py (llama.cpp's own reader and dequantiser) reads them."""
    model_dir = FIXTURES / fixture
    twin = convert(tmp_path_factory, model_dir, "f32", keep_kv_b, name=f"{model_dir.name}-{quantised.stem}-as-f32.gguf")
    source = gguf.GGUFReader(quantised)
    target = {t.name: t for t in gguf.GGUFReader(twin, "r+").tensors}
    for t in source.tensors:
        values = gguf.quants.dequantize(t.data, t.tensor_type)
        target[t.name].data[...] = values.reshape(target[t.name].data.shape)
    return twin


# Files as llama-quantize leaves them: Q8_0, Q4_0, Q4_1 or Q5_1 where rows are whole blocks (F16
# elsewhere, as the converter falls back), norms and router in F32.
@pytest.mark.parametrize("fixture", ["deepseek-v3-tiny", "deepseek-v2-lite-tiny"])
@pytest.mark.parametrize("outtype", ["q8_0", "q4_0", "q4_1", "q5_1"])
@pytest.mark.parametrize("keep_kv_b", [False, True], ids=["split-kv-b", "whole-kv-b"])
def test_quantised_files_compute_with_their_own_values(tmp_path_factory, fixture, outtype, keep_kv_b):
    model = convert(tmp_path_factory, FIXTURES / fixture, outtype, keep_kv_b)
    kinds = {t.tensor_type.name for t in gguf.GGUFReader(model).tensors}
    assert outtype.upper() in kinds
    twin = dequantised_twin(tmp_path_factory, fixture, model, keep_kv_b)
    ids = json.loads((FIXTURES / fixture / "golden.json").read_text())["sequences"][0]["ids"]
    want = logits(twin, ids)
    # The reference backend (the default deployment) and the cpu backend, which unpacks the blocks
    # into its own int8 / int4 formats (Q4_1 / Q5_1: f32).
    assert relative_error(logits(model, ids), want) <= 1e-5
    cpu = np.array(json.loads(fathom("logits", "--model", model, "--ids", ",".join(map(str, ids)),
                                     "--config", ROOT / "configs" / "cpu.toml").stdout)["logits"])
    assert relative_error(cpu, want) <= 1e-4
    decode = logits(model, ids, decode=True)
    assert relative_error(decode, want) <= 1e-5


def write_random_model(model_dir, seed=7):
    """A DeepSeek-V3-architecture checkpoint of random F32 weights whose matrices have rows of
    whole K-quant blocks (256): the fixtures' are too narrow for them. One dense layer, one MoE."""
    c = json.loads((FIXTURES / "deepseek-v3-tiny" / "config.json").read_text())
    c.update(hidden_size=256, intermediate_size=512, moe_intermediate_size=256, q_lora_rank=256, kv_lora_rank=256,
             num_attention_heads=2, num_key_value_heads=2, qk_nope_head_dim=32, qk_rope_head_dim=32, v_head_dim=128,
             n_routed_experts=4, n_shared_experts=1, num_experts_per_tok=2, n_group=2, topk_group=1,
             num_hidden_layers=2, first_k_dense_replace=1, num_nextn_predict_layers=0, torch_dtype="float32")
    h, heads, rope = c["hidden_size"], c["num_attention_heads"], c["qk_rope_head_dim"]
    qk = c["qk_nope_head_dim"] + rope
    shapes = {"model.embed_tokens.weight": [c["vocab_size"], h], "model.norm.weight": [h],
              "lm_head.weight": [c["vocab_size"], h]}
    for i in range(c["num_hidden_layers"]):
        p = f"model.layers.{i}."
        shapes.update({p + "input_layernorm.weight": [h], p + "post_attention_layernorm.weight": [h],
                       p + "self_attn.q_a_proj.weight": [c["q_lora_rank"], h],
                       p + "self_attn.q_a_layernorm.weight": [c["q_lora_rank"]],
                       p + "self_attn.q_b_proj.weight": [heads * qk, c["q_lora_rank"]],
                       p + "self_attn.kv_a_proj_with_mqa.weight": [c["kv_lora_rank"] + rope, h],
                       p + "self_attn.kv_a_layernorm.weight": [c["kv_lora_rank"]],
                       p + "self_attn.kv_b_proj.weight": [heads * (c["qk_nope_head_dim"] + c["v_head_dim"]), c["kv_lora_rank"]],
                       p + "self_attn.o_proj.weight": [h, heads * c["v_head_dim"]]})
        if i < c["first_k_dense_replace"]:
            mlps, inter = [p + "mlp."], c["intermediate_size"]
        else:
            mlps = [p + f"mlp.experts.{e}." for e in range(c["n_routed_experts"])] + [p + "mlp.shared_experts."]
            inter = c["moe_intermediate_size"]
            shapes.update({p + "mlp.gate.weight": [c["n_routed_experts"], h],
                           p + "mlp.gate.e_score_correction_bias": [c["n_routed_experts"]]})
        for m in mlps:
            shapes.update({m + "gate_proj.weight": [inter, h], m + "up_proj.weight": [inter, h],
                           m + "down_proj.weight": [h, inter]})
    rng = np.random.default_rng(seed)
    header, blobs, offset = {}, [], 0
    for name, shape in shapes.items():
        if name.endswith("norm.weight"):
            a = np.ones(shape, np.float32)
        elif name.endswith("bias"):
            a = np.zeros(shape, np.float32)
        else:
            a = (rng.standard_normal(shape) * (1.0 if "embed" in name else 0.06)).astype(np.float32)
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + a.nbytes]}
        blobs.append(a.tobytes())
        offset += a.nbytes
    model_dir.mkdir(parents=True, exist_ok=True)
    head = json.dumps(header).encode()
    (model_dir / "model.safetensors").write_bytes(struct.pack("<Q", len(head)) + head + b"".join(blobs))
    (model_dir / "config.json").write_text(json.dumps(c))
    return model_dir


@pytest.fixture(scope="module")
def k_model(tmp_path_factory):
    return write_random_model(tmp_path_factory.mktemp("k-model") / "v3-256")


def test_i_quant_grids_are_gguf_pys():
    """The I-quants' tables compiled into Fathom (sdk/ggml_iq_grids.hpp) are the ones gguf-py, llama.cpp's
    own reader, decodes these types with."""
    subprocess.run([sys.executable, str(ROOT / "tools" / "reference" / "gen_iq_grids.py"), "--check"], check=True)


@pytest.mark.parametrize("kind", ["q2_k", "q3_k", "q4_k", "q5_k", "q6_k", "iq4_nl", "iq4_xs", "iq3_s", "iq3_xxs", "iq2_s",
                                  "iq2_xs", "iq2_xxs", "iq1_m", "iq1_s"])
def test_k_quant_blocks_are_ggmls(kind):
    """The test files' K-quant and I-quant blocks (tools/reference/kquants.py) read back through
    gguf-py's own dequantiser to the weights they quantised, within about half a step of the type's
    codes (the largest error over the largest weight; Q2_K has 4 codes a sub-block, Q3_K 8; the
    I-quants below 4 bits more, their groups of 4 or 8 weights held to the entries of a grid): a
    layout that was not ggml's would read back noise (an error of the order of the weights, above
    1.3 for groups, weights or signs out of place)."""
    w = (np.random.default_rng(3).standard_normal((9, 768)) * 0.05).astype(np.float32)
    blocks = kquants.quantize(w, kind)
    blocks_per_row = 768 // kquants.BLOCK_WEIGHTS.get(kind, kquants.QK_K)
    assert blocks.shape == (9, blocks_per_row * kquants.BLOCK_BYTES[kind])
    limit = {"q2_k": 0.26, "q3_k": 0.19, "q4_k": 0.07, "q5_k": 0.035, "q6_k": 0.025, "iq4_nl": 0.09, "iq4_xs": 0.09,
             "iq3_s": 0.16, "iq3_xxs": 0.28, "iq2_s": 0.31, "iq2_xs": 0.34, "iq2_xxs": 0.38, "iq1_m": 0.62,
             "iq1_s": 0.48}[kind]
    assert kquants.roundtrip_error(w, blocks, kind) <= limit


# Files of llama-quantize's K-quant and I-quant mixes: the blocks computed with as they are, on the
# reference and cpu backends (f32 and int8 activations), prefill and decode, against an F32 twin of
# their values. The random model's k_b has rows of 32: the blocks of 32 that llama-quantize falls back
# to (IQ4_NL, Q5_0, Q5_1, Q8_0) are in these files too. The I-quant mixes bring their other types
# with them (token_embd in Q2_K or IQ3_S, attn_output in IQ2_XXS or IQ3_S, output in Q5_K).
@pytest.mark.parametrize("outtype,types", [("q2_k", {"Q2_K", "Q3_K", "Q6_K", "IQ4_NL"}),
                                           ("q3_k_m", {"Q3_K", "Q4_K", "Q6_K", "IQ4_NL"}),
                                           ("q4_k_m", {"Q4_K", "Q6_K", "Q5_0"}), ("q5_k_m", {"Q5_K", "Q6_K", "Q5_1"}),
                                           ("q6_k", {"Q6_K", "Q8_0"}), ("iq4_xs", {"IQ4_XS", "IQ4_NL", "Q6_K"}),
                                           ("iq3_s", {"IQ3_S", "IQ4_NL", "Q6_K"}),
                                           ("iq3_xxs", {"IQ3_XXS", "IQ3_S", "Q3_K", "IQ4_NL", "Q5_K"}),
                                           ("iq2_s", {"IQ2_S", "IQ3_S", "IQ4_NL", "Q5_K"}),
                                           ("iq2_xs", {"IQ2_XS", "Q2_K", "IQ4_NL", "Q5_K"}),
                                           ("iq2_xxs", {"IQ2_XXS", "Q2_K", "IQ4_NL", "Q5_K"}),
                                           ("iq1_m", {"IQ1_M", "IQ2_XXS", "Q2_K", "IQ4_NL", "Q5_K"}),
                                           ("iq1_s", {"IQ1_S", "IQ2_XXS", "Q2_K", "IQ4_NL", "Q5_K"})])
def test_k_quant_files_compute_with_their_own_values(tmp_path_factory, k_model, outtype, types, tmp_path):
    model = convert(tmp_path_factory, k_model, outtype)
    assert types <= {t.tensor_type.name for t in gguf.GGUFReader(model).tensors}
    twin = dequantised_twin(tmp_path_factory, k_model, model, False)
    ids = [3, 141, 59, 26, 5, 35, 89, 79, 32, 38, 46, 2, 64, 33, 83, 27]
    want = logits(twin, ids)
    assert relative_error(logits(model, ids), want) <= 1e-5
    assert relative_error(logits(model, ids, decode=True), want) <= 1e-5

    def on_cpu(config):
        args = ["logits", "--model", model, "--ids", ",".join(map(str, ids)), "--config", ROOT / "configs" / config]
        return np.array(json.loads(fathom(*args).stdout)["logits"])

    assert relative_error(on_cpu("cpu.toml"), want) <= 1e-4
    # The shipped GGUF deployment: int8 activations (VNNI's or AVX2's integer kernels), llama.cpp's
    # kind of rounding.
    assert relative_error(on_cpu("cpu-gguf.toml"), want) <= 3e-2


@pytest.fixture(scope="module")
def v3_vocab(tmp_path_factory):
    out = tmp_path_factory.mktemp("vocab") / "deepseek-v3-vocab.gguf"
    subprocess.run([sys.executable, str(CONVERTER), "--vocab-only", "129280", str(V3_TOKENIZER), str(out)],
                   check=True)
    return out


@pytest.mark.parametrize("corpus", ["corpus.jsonl", "edge_cases.jsonl"])
def test_tokenizer_gives_deepseeks_ids(v3_vocab, corpus):
    path = TOKENIZER_DATA / "tokenizer" / corpus
    want = [json.loads(line)["ids"] for line in path.read_text().splitlines() if line.strip()]
    got = [json.loads(line)["ids"] for line in fathom("tokenize", "--tokenizer", v3_vocab, "--jsonl", path).stdout.splitlines()]
    assert got == want


def deepseek_llm_cases():
    """DeepSeek-V2's vocabulary as llama.cpp writes it ("deepseek-llm"), with texts and the ids
    Hugging Face's tokenizer gives for them (tests/gguf/data/README.md)."""
    vocab = HERE / "data" / "ggml-vocab-deepseek-llm.gguf"
    texts = vocab.with_suffix(".gguf.inp").read_text(encoding="utf-8").split("\n__ggml_vocab_test__\n")
    if texts[-1] == "":
        texts.pop()
    ids = [[int(i) for i in line.split()] for line in vocab.with_suffix(".gguf.out").read_text().split("\n")[:len(texts)]]
    return vocab, texts, ids


def test_deepseek_v2_tokenizer_gives_huggingfaces_ids(tmp_path):
    vocab, texts, want = deepseek_llm_cases()
    lines = tmp_path / "texts.jsonl"
    lines.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
    got = [json.loads(line)["ids"] for line in fathom("tokenize", "--tokenizer", vocab, "--jsonl", lines).stdout.splitlines()]
    assert len(want) == 46 and got == want
    decoded = tmp_path / "ids.jsonl"
    decoded.write_text("".join(json.dumps({"ids": i}) + "\n" for i in want))
    back = [json.loads(line)["text"] for line in fathom("detokenize", "--tokenizer", vocab, "--jsonl", decoded).stdout.splitlines()]
    assert back == texts


def test_special_tokens_are_huggingfaces(v3_vocab, tmp_path):
    """GGUF marks every added token that looks special as CONTROL, so Hugging Face's `special` flag
    is recovered from the chat template: the markers it writes are not special (structured output
    and tool calls generate them). The fill-in-the-middle markers, not special in Hugging Face but
    never in a chat, are the only tokens that come out differently."""
    added = json.loads((V3_TOKENIZER / "tokenizer.json").read_text())["added_tokens"]
    lines = tmp_path / "ids.jsonl"
    lines.write_text("".join(json.dumps({"ids": [a["id"]]}) + "\n" for a in added))
    got = [json.loads(g)["text"] for g in
           fathom("detokenize", "--tokenizer", v3_vocab, "--jsonl", lines, "--skip-special").stdout.splitlines()]
    assert len(got) == len(added)
    differ = {a["content"] for a, text in zip(added, got) if text != ("" if a["special"] else a["content"])}
    assert differ == {"<｜fim▁hole｜>", "<｜fim▁begin｜>", "<｜fim▁end｜>"}


def test_chat_template_comes_with_the_file(v3_vocab):
    path = TOKENIZER_DATA / "chat_template.jsonl"
    want = [json.loads(line)["rendered"] for line in path.read_text().splitlines() if line.strip()]
    got = [json.loads(line)["rendered"] for line in fathom("chat-render", "--tokenizer", v3_vocab, "--jsonl", path).stdout.splitlines()]
    assert got == want


def test_generation_from_a_gguf_equals_the_checkpoints(tmp_path_factory):
    """The demo model written as GGUF (weights and tokenizer in one file) generates the same text."""
    model_dir = tmp_path_factory.mktemp("demo") / "demo"
    fathom("make-tiny", "--out", model_dir)
    model = convert(tmp_path_factory, model_dir, "f32", name="demo.gguf")
    args = ["run", "--prompt", "The quick brown fox", "--max-tokens", "24", "--temperature", "0"]
    from_dir = fathom(*args, "--model", model_dir).stdout
    from_gguf = fathom(*args, "--model", model).stdout
    assert from_gguf == from_dir and len(from_dir) > 0
    chat = ["run", "--chat", "--prompt", "Hello!", "--max-tokens", "16", "--temperature", "0"]
    assert fathom(*chat, "--model", model).stdout == fathom(*chat, "--model", model_dir).stdout
