"""Writes llama.cpp's K-quant blocks (Q2_K to Q6_K) and I-quant blocks (IQ1_S to IQ4_XS) with numpy, for test files.

gguf-py reads these types (gguf.quants.dequantize) but cannot write them, and llama-quantize is
not in the tests' venv. These quantisers are plain (each sub-block's range mapped onto the codes,
no search for the best scales as llama.cpp's does), so files are a little less accurate than
llama-quantize's; the bit layout is ggml's, and the tests check every file they write against
gguf-py's own dequantiser (`roundtrip_error`), which is what judges the layout. The I-quants below
4 bits store indices into ggml's grids of magnitudes (IQ1_S/IQ1_M: of values −1, 0, 1), taken from
gguf-py; each group takes its nearest entry (least squares, by brute force) at the scale chosen.

    blocks = quantize(weights, "q4_k")   # float [..., K], K a multiple of 256 → uint8 [..., K/256 · 144]
"""

import numpy as np

QK_K = 256
BLOCK_BYTES = {"q2_k": 84, "q3_k": 110, "q4_k": 144, "q5_k": 176, "q6_k": 210, "iq4_nl": 18, "iq4_xs": 136,
               "iq2_xxs": 66, "iq2_xs": 74, "iq2_s": 82, "iq3_xxs": 98, "iq3_s": 110, "iq1_s": 50, "iq1_m": 56}
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


def _grid(name):
    """ggml's grid of the I-quant `name` (gguf-py's IQ2_XXS ...): float [entries, width]."""
    import gguf

    cls = getattr(gguf.quants, name)
    cls.init_grid()
    return cls.grid.reshape(cls.grid_shape)


def _nearest(targets, grid):
    """targets [..., width] → the index [...] of each one's nearest grid entry (least squares)."""
    t = targets.reshape(-1, grid.shape[1])
    norms = (grid * grid).sum(-1)
    idx = np.concatenate([(norms - 2 * t[i:i + 4096] @ grid.T).argmin(-1) for i in range(0, len(t), 4096)])
    return idx.reshape(targets.shape[:-1])


def _scales(step, a, b, top):
    """Sub-block steps wanted [n, S] → d (f16 [n]), scales s [n, S] in 0..top and the steps d·(a + b·s)
    they give, the largest sub-block's step at s = top."""
    d = _f16(step.max(-1) / (a + b * top))
    df = d.astype(np.float32)[:, None]
    s = np.clip(np.rint((_divide(step, df) - a) / b), 0, top).astype(np.uint32)
    return d, s, df * (a + b * s)


def _even_signs(x):
    """x [..., 8] → its minus signs (bool), their count made even as ksigns needs: where it is odd, the
    weight of least magnitude takes the other sign."""
    neg = x < 0
    odd = neg.sum(-1) % 2 == 1
    smallest = np.arange(8) == np.abs(x).argmin(-1)[..., None]
    return neg ^ (odd[..., None] & smallest)


def _bits(flags):
    """bool [..., k] → the integer with bit j set for flag j."""
    return (flags.astype(np.uint32) << np.arange(flags.shape[-1], dtype=np.uint32)).sum(-1, dtype=np.uint32)


def _signed_nearest(groups, neg, step, grid):
    """The grid indices of weights [..., k] (k a multiple of the grid's width) given their minus signs:
    magnitudes over the step, a weight whose sign was flipped counting as a negative magnitude (so it
    takes a small grid value)."""
    targets = _divide(np.where(neg, -groups, groups), step)
    return _nearest(targets.reshape(*targets.shape[:-1], -1, grid.shape[1]), grid)


def _iq2_xxs(x):
    """Per 32 weights a u32 of four indices into a 256-entry grid (8 magnitudes from {8, 25, 43}) and a
    u32 of four 7-bit ksigns indices and a 4-bit scale s: weight = d·(0.5 + s)/4 · grid · sign."""
    grid = _grid("IQ2_XXS")
    x = x.reshape(-1, 8, 4, 8)
    n = x.shape[0]
    d, s, step = _scales(np.abs(x).max((-1, -2)) / grid.max(), 0.125, 0.25, 15)
    neg = _even_signs(x)
    idx = _signed_nearest(x, neg, step[..., None, None], grid)[..., 0].astype(np.uint32)  # [n, 8, 4]
    four = np.arange(4, dtype=np.uint32)
    q = np.stack([(idx << (8 * four)).sum(-1, dtype=np.uint32),
                  ((_bits(neg) & 0x7F) << (7 * four)).sum(-1, dtype=np.uint32) | (s << 28)], -1)
    return np.concatenate([d.view(np.uint8).reshape(-1, 2), q.view(np.uint8).reshape(n, 64)], axis=1)


def _iq2_xs(x):
    """Per 8 weights a u16: a 9-bit index into a 512-entry grid | a 7-bit ksigns index << 9; a 4-bit scale
    per 16 weights: weight = d·(0.5 + s)/4 · grid · sign."""
    grid = _grid("IQ2_XS")
    x = x.reshape(-1, 16, 2, 8)
    n = x.shape[0]
    d, s, step = _scales(np.abs(x).max((-1, -2)) / grid.max(), 0.125, 0.25, 15)
    neg = _even_signs(x)
    idx = _signed_nearest(x, neg, step[..., None, None], grid)[..., 0].astype(np.uint32)  # [n, 16, 2]
    q = (idx | ((_bits(neg) & 0x7F) << 9)).astype(np.uint16).reshape(n, 32)
    return np.concatenate([d.view(np.uint8).reshape(-1, 2), q.view(np.uint8),
                           (s[:, 0::2] | (s[:, 1::2] << 4)).astype(np.uint8)], axis=1)


def _iq2_s(x):
    """IQ2_XS's scales with a 1024-entry grid, its 10-bit indices split (low bytes; top 2 bits at bits
    2·(g % 4) of byte g/4), and an explicit sign bit per weight."""
    grid = _grid("IQ2_S")
    x = x.reshape(-1, 16, 2, 8)
    n = x.shape[0]
    d, s, step = _scales(np.abs(x).max((-1, -2)) / grid.max(), 0.125, 0.25, 15)
    neg = x < 0
    idx = _signed_nearest(x, neg, step[..., None, None], grid)[..., 0].reshape(n, 8, 4).astype(np.uint32)
    high = ((idx >> 8) << (2 * np.arange(4, dtype=np.uint32))).sum(-1, dtype=np.uint32)
    return np.concatenate([d.view(np.uint8).reshape(-1, 2), (idx & 0xFF).astype(np.uint8).reshape(n, 32),
                           _bits(neg).astype(np.uint8).reshape(n, 32), high.astype(np.uint8),
                           (s[:, 0::2] | (s[:, 1::2] << 4)).astype(np.uint8)], axis=1)


def _iq3_xxs(x):
    """A byte per 4 weights indexing a 256-entry grid (4 magnitudes from {4, 12, ..., 52, 62}); per 32
    weights a u32 of four ksigns indices and a 4-bit scale as IQ2_XXS's: weight = d·(0.5 + s)/2 · grid · sign."""
    grid = _grid("IQ3_XXS")
    x = x.reshape(-1, 8, 4, 8)
    n = x.shape[0]
    d, s, step = _scales(np.abs(x).max((-1, -2)) / grid.max(), 0.25, 0.5, 15)
    neg = _even_signs(x)
    idx = _signed_nearest(x, neg, step[..., None, None], grid).astype(np.uint8)  # [n, 8, 4, 2]
    signs = ((_bits(neg) & 0x7F) << (7 * np.arange(4, dtype=np.uint32))).sum(-1, dtype=np.uint32) | (s << 28)
    return np.concatenate([d.view(np.uint8).reshape(-1, 2), idx.reshape(n, 64), signs.view(np.uint8).reshape(n, 32)],
                          axis=1)


def _iq3_s(x):
    """A 9-bit index per 4 weights into a 512-entry grid (magnitudes from {1, 3, ..., 15}; low bytes, then
    the ninth bits), an explicit sign bit per weight and a 4-bit scale per 32: weight = d·(1 + 2s) · grid · sign."""
    grid = _grid("IQ3_S")
    x = x.reshape(-1, 8, 32)
    n = x.shape[0]
    d, s, step = _scales(np.abs(x).max(-1) / grid.max(), 1, 2, 15)
    neg = x < 0
    idx = _signed_nearest(x, neg, step[..., None], grid).reshape(n, 64).astype(np.uint32)
    return np.concatenate([d.view(np.uint8).reshape(-1, 2), (idx & 0xFF).astype(np.uint8),
                           _bits((idx >> 8).reshape(n, 8, 8) == 1).astype(np.uint8),
                           _bits(neg.reshape(n, 32, 8)).astype(np.uint8),
                           (s[:, 0::2] | (s[:, 1::2] << 4)).astype(np.uint8)], axis=1)


IQ1_DELTA = 0.125


def _iq1_codes(x, step, delta_shape):
    """IQ1_S / IQ1_M: groups x [n, G, 8] at steps [n, G, 1] → the 11-bit grid indices [n, G] and the
    minus signs of the deltas, each delta (one per delta_shape's last axis) the better of ±1/8."""
    grid = _grid("IQ1_S")
    targets = _divide(x, step)
    idx, err = [], []
    for delta in (IQ1_DELTA, -IQ1_DELTA):
        i = _nearest(targets - delta, grid)
        idx.append(i)
        err.append(((targets - delta - grid[i]) ** 2).sum(-1).reshape(delta_shape).sum(-1))
    minus = err[1] < err[0]
    return np.where(np.repeat(minus, x.shape[1] // minus.shape[1], axis=1), idx[1], idx[0]).astype(np.uint32), minus


def _iq1_s(x):
    """An 11-bit index per 8 weights into a 2048-entry grid of values −1, 0, 1 (low bytes; per 32 weights
    a u16 of the four top 3 bits, a 3-bit scale s and the delta's sign): weight = d·(2s + 1)·(grid ± 1/8)."""
    x = x.reshape(-1, 8, 32)
    n = x.shape[0]
    d, s, step = _scales(np.abs(x).max(-1) / (1 + IQ1_DELTA), 1, 2, 7)
    groups = x.reshape(n, 32, 8)
    idx, minus = _iq1_codes(groups, np.repeat(step, 4, axis=1)[..., None], (n, 8, 4))
    high = ((idx >> 8).reshape(n, 8, 4) << (3 * np.arange(4, dtype=np.uint32))).sum(-1, dtype=np.uint32)
    qh = (high | (s << 12) | (minus.astype(np.uint32) << 15)).astype(np.uint16)
    return np.concatenate([d.view(np.uint8).reshape(-1, 2), (idx & 0xFF).astype(np.uint8), qh.view(np.uint8)], axis=1)


def _iq1_m(x):
    """IQ1_S's grid with a 3-bit scale per 16 weights and a delta sign per 8 (a nibble per group: top 3
    index bits | sign << 3); d's f16 bits lie in the top nibbles of the four u16 of scales."""
    x = x.reshape(-1, 16, 16)
    n = x.shape[0]
    d, s, step = _scales(np.abs(x).max(-1) / (1 + IQ1_DELTA), 1, 2, 7)
    groups = x.reshape(n, 32, 8)
    idx, minus = _iq1_codes(groups, np.repeat(step, 2, axis=1)[..., None], (n, 32, 1))
    nibbles = (idx >> 8) | (minus.astype(np.uint32) << 3)
    scales = (s.reshape(n, 4, 4) << (3 * np.arange(4, dtype=np.uint32))).sum(-1, dtype=np.uint32)
    d_bits = d.view(np.uint16).astype(np.uint32)[:, None] >> (4 * np.arange(4, dtype=np.uint32))
    scales = (scales | ((d_bits & 0xF) << 12)).astype(np.uint16)
    return np.concatenate([(idx & 0xFF).astype(np.uint8), (nibbles[:, 0::2] | (nibbles[:, 1::2] << 4)).astype(np.uint8),
                           scales.view(np.uint8)], axis=1)


_QUANTISERS = {"q2_k": _q2_k, "q3_k": _q3_k, "q4_k": _q4_k, "q5_k": _q5_k, "q6_k": _q6_k, "iq4_nl": _iq4_nl,
               "iq4_xs": _iq4_xs, "iq2_xxs": _iq2_xxs, "iq2_xs": _iq2_xs, "iq2_s": _iq2_s, "iq3_xxs": _iq3_xxs,
               "iq3_s": _iq3_s, "iq1_s": _iq1_s, "iq1_m": _iq1_m}


def quantize(weights, kind):
    """float [..., K] (K a multiple of the block) → uint8 [..., K/block · block bytes], gguf-py's shape."""
    w = np.asarray(weights, np.float32)
    block = BLOCK_WEIGHTS.get(kind, QK_K)
    if w.shape[-1] % block:
        raise ValueError(f"rows of {w.shape[-1]} are not whole blocks of {block}")
    flat = w.reshape(-1, block)
    # In chunks: the I-quants' searches hold a distance to every table entry per group of 8
    # weights, which for a whole expert stack would not fit in memory.
    chunk = 4096
    blocks = np.concatenate([_QUANTISERS[kind](flat[i:i + chunk]) for i in range(0, len(flat), chunk)]) if len(flat) \
        else _QUANTISERS[kind](flat)
    return blocks.reshape(*w.shape[:-1], w.shape[-1] // block * BLOCK_BYTES[kind])


def roundtrip_error(weights, blocks, kind):
    """Largest |dequantised − weight| over the largest |weight|, dequantised by gguf-py."""
    import gguf

    qtype = getattr(gguf.GGMLQuantizationType, kind.upper())
    back = gguf.quants.dequantize(blocks, qtype).reshape(np.shape(weights))
    return float(np.max(np.abs(back - weights)) / max(np.max(np.abs(weights)), 1e-30))
