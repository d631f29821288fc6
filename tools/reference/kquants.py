"""Writes llama.cpp's K-quant blocks (Q2_K to Q6_K), IQ4_NL's and IQ4_XS's with numpy, for test files.

gguf-py reads these types (gguf.quants.dequantize) but cannot write them, and llama-quantize is
not in the tests' venv. These quantisers are plain (each sub-block's range mapped onto the codes,
no search for the best scales as llama.cpp's does), so files are a little less accurate than
llama-quantize's; the bit layout is ggml's, and the tests check every file they write against
gguf-py's own dequantiser (`roundtrip_error`), which is what judges the layout.

    blocks = quantize(weights, "q4_k")   # float [..., K], K a multiple of 256 → uint8 [..., K/256 · 144]
"""

import numpy as np

QK_K = 256
BLOCK_BYTES = {"q2_k": 84, "q3_k": 110, "q4_k": 144, "q5_k": 176, "q6_k": 210, "iq4_nl": 18, "iq4_xs": 136}
BLOCK_WEIGHTS = {"iq4_nl": 32}  # the others: QK_K


def _divide(a, b):
    """a / b where b > 0, else 0."""
    return np.divide(a, b, out=np.zeros(np.broadcast(a, b).shape, np.float32), where=b > 0)


def _f16(x):
    return x.astype(np.float16)


def _affine_sub_blocks(x, code_max):
    """Q4_K / Q5_K: x [n, 8, 32] → d, dmin (f16 [n]), 6-bit scales and mins [n, 8], codes [n, 8, 32]
    with weight = code · (d · scale) − dmin · min."""
    low = np.minimum(x.min(-1), 0)
    step = (x.max(-1) - low) / code_max
    offset = -low
    d = _f16(step.max(-1) / 63)
    dmin = _f16(offset.max(-1) / 63)
    df, dminf = d.astype(np.float32)[:, None], dmin.astype(np.float32)[:, None]
    scales = np.clip(np.rint(_divide(step, df)), 0, 63).astype(np.uint8)
    mins = np.clip(np.rint(_divide(offset, dminf)), 0, 63).astype(np.uint8)
    step_f = (df * scales)[..., None]
    min_f = (dminf * mins)[..., None]
    codes = np.clip(np.rint(_divide(x + min_f, step_f)), 0, code_max).astype(np.uint8)
    return d, dmin, scales, mins, codes


def _pack_scales_mins(scales, mins):
    """8 six-bit scales and mins → ggml's 12 bytes: 0-3 sub-blocks 0-3 in the low 6 bits of bytes
    0-3 and 4-7; 4-7 in the nibbles of bytes 8-11, their top two bits in bytes 0-7's high bits."""
    out = np.zeros((scales.shape[0], 12), np.uint8)
    out[:, 0:4] = scales[:, 0:4] | ((scales[:, 4:8] >> 4) << 6)
    out[:, 4:8] = mins[:, 0:4] | ((mins[:, 4:8] >> 4) << 6)
    out[:, 8:12] = (scales[:, 4:8] & 0x0F) | ((mins[:, 4:8] & 0x0F) << 4)
    return out


def _nibbles(codes):
    """codes [n, 8, 32] → 128 bytes: byte 32·i + l = sub-block 2i's code l (low) | 2i + 1's (high)."""
    low, high = codes[:, 0::2, :] & 0x0F, codes[:, 1::2, :] & 0x0F
    return (low | (high << 4)).reshape(codes.shape[0], 128)


def _q4_k(x):
    d, dmin, scales, mins, codes = _affine_sub_blocks(x.reshape(-1, 8, 32), 15)
    return np.concatenate([d.view(np.uint8).reshape(-1, 2), dmin.view(np.uint8).reshape(-1, 2),
                           _pack_scales_mins(scales, mins), _nibbles(codes)], axis=1)


def _q5_k(x):
    d, dmin, scales, mins, codes = _affine_sub_blocks(x.reshape(-1, 8, 32), 31)
    # Byte l of the fifth bits holds sub-block i's code l in bit i.
    high = ((codes >> 4) & 1).astype(np.uint8) << np.arange(8, dtype=np.uint8)[None, :, None]
    return np.concatenate([d.view(np.uint8).reshape(-1, 2), dmin.view(np.uint8).reshape(-1, 2),
                           _pack_scales_mins(scales, mins), np.bitwise_or.reduce(high, axis=1), _nibbles(codes)],
                          axis=1)


def _q6_k(x):
    x = x.reshape(-1, 16, 16)
    n = x.shape[0]
    step = np.abs(x).max(-1) / 31
    d = _f16(step.max(-1) / 127)
    df = d.astype(np.float32)[:, None]
    scales = np.clip(np.rint(_divide(step, df)), 0, 127).astype(np.int8)
    codes = np.clip(np.rint(_divide(x, (df * scales)[..., None])), -32, 31).astype(np.int16) + 32
    q = codes.astype(np.uint8).reshape(n, 2, 4, 32)  # halves of 128, quarters of 32
    low = np.empty((n, 2, 64), np.uint8)
    low[:, :, :32] = (q[:, :, 0] & 0x0F) | ((q[:, :, 2] & 0x0F) << 4)
    low[:, :, 32:] = (q[:, :, 1] & 0x0F) | ((q[:, :, 3] & 0x0F) << 4)
    high = (q[:, :, 0] >> 4) | ((q[:, :, 1] >> 4) << 2) | ((q[:, :, 2] >> 4) << 4) | ((q[:, :, 3] >> 4) << 6)
    return np.concatenate([low.reshape(n, 128), high.reshape(n, 64), scales.view(np.uint8),
                           d.view(np.uint8).reshape(-1, 2)], axis=1)


def _two_bit_planes(codes):
    """codes [n, 256] of 2 bits → 64 bytes: weight 128·h + 32·i + l in bits 2·i of byte 32·h + l."""
    q = codes.reshape(-1, 2, 4, 32).astype(np.uint8)
    return (q[:, :, 0] | (q[:, :, 1] << 2) | (q[:, :, 2] << 4) | (q[:, :, 3] << 6)).reshape(-1, 64)


def _q2_k(x):
    x = x.reshape(-1, 16, 16)
    low = np.minimum(x.min(-1), 0)
    step, offset = (x.max(-1) - low) / 3, -low
    d, dmin = _f16(step.max(-1) / 15), _f16(offset.max(-1) / 15)
    df, dminf = d.astype(np.float32)[:, None], dmin.astype(np.float32)[:, None]
    scales = np.clip(np.rint(_divide(step, df)), 0, 15).astype(np.uint8)
    mins = np.clip(np.rint(_divide(offset, dminf)), 0, 15).astype(np.uint8)
    codes = np.clip(np.rint(_divide(x + (dminf * mins)[..., None], (df * scales)[..., None])), 0, 3)
    return np.concatenate([scales | (mins << 4), _two_bit_planes(codes.reshape(-1, 256)),
                           d.view(np.uint8).reshape(-1, 2), dmin.view(np.uint8).reshape(-1, 2)], axis=1)


def _q3_k(x):
    x = x.reshape(-1, 16, 16)
    n = x.shape[0]
    # Codes −4..3: each sub-block's weight of largest magnitude becomes code −4 (a signed step).
    biggest = np.take_along_axis(x, np.abs(x).argmax(-1)[..., None], -1)[..., 0]
    step = biggest / -4
    d = _f16(np.abs(step).max(-1) / 31)
    df = d.astype(np.float32)[:, None]
    scales = np.clip(np.rint(np.divide(step, df, out=np.zeros_like(step), where=df > 0)),
                     -31, 31).astype(np.int16)
    step_f = (df * scales)[..., None]
    codes = np.clip(np.rint(np.divide(x, step_f, out=np.zeros_like(x), where=step_f != 0)), -4, 3).astype(np.int16) + 4
    codes = codes.reshape(n, 256).astype(np.uint8)
    # hmask: byte l, bit 4·h + i holds the third bit of weight 128·h + 32·i + l.
    third = ((codes >> 2) & 1).reshape(n, 8, 32) << np.arange(8, dtype=np.uint8)[None, :, None]
    sc = (scales + 32).astype(np.uint8).reshape(n, 16)
    packed = np.zeros((n, 12), np.uint8)
    packed[:, 0:8] = (sc[:, 0:8] & 0x0F) | ((sc[:, 8:16] & 0x0F) << 4)
    for s in range(16):
        packed[:, 8 + s % 4] |= (sc[:, s] >> 4) << (2 * (s // 4))
    return np.concatenate([np.bitwise_or.reduce(third, axis=1), _two_bit_planes(codes & 3), packed,
                           d.view(np.uint8).reshape(-1, 2)], axis=1)


IQ4_NL_VALUES = np.array([-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113], np.float32)


def _iq4_nl(x):
    x = x.reshape(-1, 32)
    biggest = np.take_along_axis(x, np.abs(x).argmax(-1)[..., None], -1)
    d = _f16(biggest[:, 0] / -127)  # the weight of largest magnitude is the table's −127
    df = d.astype(np.float32)[:, None]
    scaled = np.divide(x, df, out=np.zeros_like(x), where=df != 0)
    idx = np.abs(scaled[..., None] - IQ4_NL_VALUES).argmin(-1).astype(np.uint8)
    return np.concatenate([d.view(np.uint8).reshape(-1, 2), idx[:, :16] | (idx[:, 16:] << 4)], axis=1)


def _iq4_xs(x):
    """IQ4_NL's table in sub-blocks of 32, each with a 6-bit signed scale of the block's d."""
    x = x.reshape(-1, 8, 32)
    n = x.shape[0]
    biggest = np.take_along_axis(x, np.abs(x).argmax(-1)[..., None], -1)[..., 0]
    step = biggest / -127  # each sub-block's weight of largest magnitude is the table's −127
    d = _f16(np.abs(step).max(-1) / 31)
    df = d.astype(np.float32)[:, None]
    scales = np.clip(np.rint(np.divide(step, df, out=np.zeros_like(step), where=df > 0)), -32, 31).astype(np.int16)
    step_f = (df * scales)[..., None]
    scaled = np.divide(x, step_f, out=np.zeros_like(x), where=step_f != 0)
    idx = np.abs(scaled[..., None] - IQ4_NL_VALUES).argmin(-1).astype(np.uint8)  # [n, 8, 32]
    ls = (scales + 32).astype(np.uint16)
    high = np.zeros(n, np.uint16)
    for s in range(8):
        high |= ((ls[:, s] >> 4) & 3) << (2 * s)
    low = (ls[:, 0::2] & 0x0F) | ((ls[:, 1::2] & 0x0F) << 4)
    qs = (idx[:, :, :16] | (idx[:, :, 16:] << 4)).reshape(n, 128)
    return np.concatenate([d.view(np.uint8).reshape(-1, 2), high.view(np.uint8).reshape(-1, 2),
                           low.astype(np.uint8), qs], axis=1)


_QUANTISERS = {"q2_k": _q2_k, "q3_k": _q3_k, "q4_k": _q4_k, "q5_k": _q5_k, "q6_k": _q6_k, "iq4_nl": _iq4_nl,
               "iq4_xs": _iq4_xs}


def quantize(weights, kind):
    """float [..., K] (K a multiple of the block) → uint8 [..., K/block · block bytes], gguf-py's shape."""
    w = np.asarray(weights, np.float32)
    block = BLOCK_WEIGHTS.get(kind, QK_K)
    if w.shape[-1] % block:
        raise ValueError(f"rows of {w.shape[-1]} are not whole blocks of {block}")
    blocks = _QUANTISERS[kind](w.reshape(-1, block))
    return blocks.reshape(*w.shape[:-1], w.shape[-1] // block * BLOCK_BYTES[kind])


def roundtrip_error(weights, blocks, kind):
    """Largest |dequantised − weight| over the largest |weight|, dequantised by gguf-py."""
    import gguf

    qtype = getattr(gguf.GGMLQuantizationType, kind.upper())
    back = gguf.quants.dequantize(blocks, qtype).reshape(np.shape(weights))
    return float(np.max(np.abs(back - weights)) / max(np.max(np.abs(weights)), 1e-30))
