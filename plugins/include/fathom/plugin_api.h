/* Fathom backend plugin ABI — the only contract between the runtime and a backend.
 *
 * A backend is a shared library `libfathom-backend-<name>.so` that exports one C symbol:
 *
 *     const fathom_backend_api* fathom_backend_entry(uint32_t host_abi_major, uint32_t host_abi_minor);
 *
 * It returns a pointer to a static, immutable table of function pointers (or NULL when it
 * cannot serve that host). Everything that crosses this boundary is plain C: integers with
 * frozen values, plain structs, opaque handles and function pointers. No C++ types, no
 * exceptions (every entry point catches and returns a fathom_status), no allocations that the
 * other side must free.
 *
 * Versioning
 *   - FATHOM_ABI_MAJOR changes on any incompatible change. The host refuses another major.
 *   - FATHOM_ABI_MINOR changes when fields are appended to a struct. Every versioned struct begins
 *     with `struct_size`; a reader never touches a field that lies beyond struct_size, and treats a
 *     missing optional function as NULL.
 *   - Integer ids (ops, dtypes, layouts, status codes, roles) are frozen: a value is never reused
 *     or renumbered. New ids are appended.
 *
 * Ownership and lifetime
 *   - Strings returned by a plugin (names, status messages, reasons) are owned by the plugin.
 *     Status messages stay valid until the next call into the same plugin from the same thread;
 *     names, versions and support reasons stay valid until the library is unloaded.
 *   - Every object a plugin creates (backend, buffer, executable) is destroyed by the host through
 *     the matching destroy/free call before the host calls `destroy` on the backend; the host
 *     unloads the library only after that.
 *   - Pointers the host passes in (descriptors, option accessors) are valid only during the call;
 *     a plugin copies what it needs to keep.
 *
 * Threading
 *   - Calls on one backend instance are serialised by the host unless noted otherwise.
 */
#ifndef FATHOM_PLUGIN_API_H
#define FATHOM_PLUGIN_API_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FATHOM_ABI_MAJOR 1
#define FATHOM_ABI_MINOR 0

#if defined(_WIN32)
#define FATHOM_PLUGIN_EXPORT __declspec(dllexport)
#else
#define FATHOM_PLUGIN_EXPORT __attribute__((visibility("default")))
#endif

#define FATHOM_BACKEND_ENTRY_SYMBOL "fathom_backend_entry"
#define FATHOM_MAX_RANK 6

/* ------------------------------------------------------------------------------------------ */
/* Status                                                                                      */
/* ------------------------------------------------------------------------------------------ */

/* Status codes (frozen; same values as fathom::ErrorCode in core). */
enum {
  FATHOM_STATUS_OK = 0,
  FATHOM_STATUS_UNSUPPORTED = 1,         /* valid request this backend does not serve; host may fall back */
  FATHOM_STATUS_INVALID_ARGUMENT = 2,    /* malformed descriptor, bad option value */
  FATHOM_STATUS_NOT_FOUND = 3,
  FATHOM_STATUS_OUT_OF_RANGE = 4,
  FATHOM_STATUS_RESOURCE_EXHAUSTED = 5,  /* out of device or host memory */
  FATHOM_STATUS_FAILED_PRECONDITION = 6,
  FATHOM_STATUS_UNAVAILABLE = 7,         /* device or driver absent */
  FATHOM_STATUS_INTERNAL = 8             /* a bug, or an exception caught at the boundary */
};

typedef struct fathom_status {
  int32_t code;        /* FATHOM_STATUS_* */
  const char* message; /* NULL when code is OK; see "Ownership" above */
} fathom_status;

/* ------------------------------------------------------------------------------------------ */
/* Data types and layouts (frozen ids)                                                          */
/* ------------------------------------------------------------------------------------------ */

enum {
  FATHOM_DTYPE_INVALID = 0,
  FATHOM_DTYPE_F32 = 1,
  FATHOM_DTYPE_F16 = 2,
  FATHOM_DTYPE_BF16 = 3,
  FATHOM_DTYPE_F8_E4M3FN = 4, /* OCP FP8 E4M3: bias 7, no infinities, NaN = S.1111.111, max 448 */
  FATHOM_DTYPE_F8_E5M2 = 5,   /* OCP FP8 E5M2: bias 15, IEEE-like infinities and NaNs, max 57344 */
  FATHOM_DTYPE_I32 = 6,
  FATHOM_DTYPE_I64 = 7,
  FATHOM_DTYPE_U8 = 8
};

/* How the elements of a tensor are laid out and scaled. Dense tensors are row-major and
 * contiguous (the last dimension varies fastest). */
enum {
  FATHOM_LAYOUT_DENSE = 0,
  /* A 2-D FP8 weight W[N][K] whose true value is W[n][k] * S[n/128][k/128]; S is a separate
   * f32 tensor of shape [ceil(N/128)][ceil(K/128)], row-major (DeepSeek's weight_scale_inv:
   * multiply, never divide). The op that consumes such a tensor takes S as the next input. */
  FATHOM_LAYOUT_BLOCK_SCALED_128x128 = 1,
  /* A 2-D weight W[N][K] in llama.cpp's GGUF blocks, as a GGUF file stores it: each row is
   * K/B blocks of B weights (K a multiple of B). The descriptor keeps the logical shape [N, K]
   * with dtype U8; the bytes are N · K/B · (block size), no scale input follows. f16 fields are
   * little-endian; sdk/ggml_blocks.hpp reads every layout.
   *   Q8_0: B = 32, 34-byte blocks: d (f16), 32 int8 codes q; W = q · d.
   *   Q4_0: B = 32, 18-byte blocks: d, 16 bytes of 4-bit codes: byte j holds weight j (low
   *         nibble) and weight j + 16 (high nibble); W = (nibble − 8) · d.
   *   Q5_0: B = 32, 22-byte blocks: d, 4 bytes of fifth bits (bit j of the little-endian u32 is
   *         weight j's), 16 bytes of low 4 bits as Q4_0's; W = (q − 16) · d.
   *   Q4_1: B = 32, 20-byte blocks: d, m (f16), 16 bytes of 4-bit codes as Q4_0's; W = q · d + m.
   *   Q5_1: B = 32, 24-byte blocks: d, m, the fifth bits and low bits as Q5_0's; W = q · d + m.
   *   IQ4_NL: B = 32, 18-byte blocks as Q4_0's; W = T[nibble] · d, T = {−127, −104, −83, −65,
   *         −49, −35, −22, −10, 1, 13, 25, 38, 53, 69, 89, 113}.
   * The K-quants: B = 256 in sub-blocks, each sub-block with an integer scale (and min):
   *   Q4_K: 144-byte blocks: d, dmin (f16), 12 bytes packing 8 six-bit scales sc and mins m (one
   *         each per sub-block of 32), 128 bytes of 4-bit codes q (byte 32·i + l holds weight
   *         64·i + l low and 64·i + 32 + l high); W = q · (d · sc) − dmin · m.
   *   Q5_K: 176-byte blocks: as Q4_K, with 32 bytes of fifth bits (weight 64·i + l takes bit 2·i of
   *         byte l, weight 64·i + 32 + l bit 2·i + 1) between the scales and the low bits.
   *   Q6_K: 210-byte blocks: 128 bytes of low 4 bits, 64 bytes of high 2 bits, 16 int8 scales sc
   *         (one per sub-block of 16), d (f16); W = (q − 32) · d · sc.
   *   Q2_K: 84-byte blocks: 16 bytes of scales (sub-block s of 16: sc in the low nibble of byte s,
   *         m in the high), 64 bytes of 2-bit codes (weight 128·h + 32·i + l, l < 32, in bits 2·i
   *         of byte 32·h + l), d, dmin (f16); W = q · (d · sc) − dmin · m.
   *   Q3_K: 110-byte blocks: 32 bytes of high bits (weight 128·h + 32·i + l takes bit 4·h + i of
   *         byte l), 64 bytes of low 2 bits placed as Q2_K's codes, 12 bytes packing 16 six-bit
   *         scales sc (sub-block s of 16: low 4 bits in the low nibble of byte s for s < 8, the
   *         high nibble of byte s − 8 after; top 2 bits at bit 2·(s / 4) of byte 8 + s % 4),
   *         d (f16); W = (q − 4) · d · (sc − 32), q the 3-bit code.
   *   IQ4_XS: 136-byte blocks: d (f16), 2 bytes of high scale bits (little-endian u16: bits 2·s
   *         and 2·s + 1 are the top two of sub-block s's scale), 4 bytes of low scale bits (sub-
   *         block s: nibble s % 2 of byte s / 2), 128 bytes of 4-bit codes, 16 per sub-block of 32
   *         as Q4_0's; W = T[nibble] · d · (sc − 32), T IQ4_NL's table.
   * The I-quants below 4 bits: B = 256, each group of 8 weights (4 for IQ3_*) the index of an entry
   * of a fixed table (sdk/ggml_iq_grids.hpp, from gguf-py) whose bytes are their magnitudes, with a
   * sign per weight and an odd integer scale 2·s + 1 per sub-block (little-endian fields; "entry
   * g" counts groups of 8 weights, 0-31; sign bits through K[i] = i | parity(i) << 7, which makes
   * the count of minus signs of 8 even):
   *   IQ2_XXS: 66-byte blocks: d (f16), then per 32 weights a u32 of 4 entry indices (one byte
   *         per 8 weights) and a u32 of 4 seven-bit sign indices K (bits 7·i) and s (bits 28-31);
   *         W = grid · sign · d · (2·s + 1) / 8.
   *   IQ2_XS: 74-byte blocks: d, 32 u16 (entry g: a 9-bit index and a 7-bit sign index K, high),
   *         8 bytes of scales (sub-block of 16 t: nibble t % 2 of byte t / 2); W as IQ2_XXS's.
   *   IQ2_S: 82-byte blocks: d, 32 bytes of low index bits (entry g), 32 bytes of signs (bit j of
   *         byte g is weight 8·g + j's, set for minus), 8 bytes of the indices' top 2 bits (entry
   *         g at bit 2·(g % 4) of byte g / 4), scales as IQ2_XS's; W as IQ2_XXS's.
   *   IQ3_XXS: 98-byte blocks: d, 64 bytes of indices (one per 4 weights), then per 32 weights a
   *         u32 of 4 sign indices K and s as IQ2_XXS's; W = grid · sign · d · (2·s + 1) / 4.
   *   IQ3_S: 110-byte blocks: d, 64 bytes of low index bits (one per 4 weights), 8 bytes of their
   *         ninth bits (index e: bit e % 8 of byte e / 8), 32 bytes of signs as IQ2_S's, 4 bytes of
   *         scales (sub-block of 32 t: nibble t % 2 of byte t / 2); W = grid · sign · d · (2·s + 1).
   *   IQ1_S: 50-byte blocks: d, 32 bytes of low index bits (entry g; 11-bit indices, values −1, 0
   *         or 1), then per 32 weights a u16: the top 3 index bits of its 4 entries (bits 3·i), s
   *         (bits 12-14) and the sign of a shift δ (bit 15: δ = −1/8, else +1/8);
   *         W = (grid + δ) · d · (2·s + 1).
   *   IQ1_M: 56-byte blocks: 32 bytes of low index bits, 16 bytes of one nibble per entry (g: byte
   *         g / 2, the high nibble for odd g): the top 3 index bits and δ's sign (bit 3), then 4
   *         u16 holding 16 three-bit s (sub-block of 16 t: bits 3·(t % 4) of u16 t / 4) and in
   *         their top nibbles the 4 nibbles of d (u16 i: bits 4·i to 4·i + 3 of d's bits); W as
   *         IQ1_S's.
   * Taken as the weight of MATMUL, the expert matrices of MOE_EXPERTS and the table of EMBEDDING,
   * where a backend accepts it. */
  FATHOM_LAYOUT_GGML_Q8_0 = 2,
  FATHOM_LAYOUT_GGML_Q4_0 = 3,
  FATHOM_LAYOUT_GGML_Q4_K = 4,
  FATHOM_LAYOUT_GGML_Q5_K = 5,
  FATHOM_LAYOUT_GGML_Q6_K = 6,
  FATHOM_LAYOUT_GGML_Q5_0 = 7,
  FATHOM_LAYOUT_GGML_Q4_1 = 8,
  FATHOM_LAYOUT_GGML_Q5_1 = 9,
  FATHOM_LAYOUT_GGML_IQ4_NL = 10,
  FATHOM_LAYOUT_GGML_Q2_K = 11,
  FATHOM_LAYOUT_GGML_Q3_K = 12,
  FATHOM_LAYOUT_GGML_IQ4_XS = 13,
  FATHOM_LAYOUT_GGML_IQ2_XXS = 14,
  FATHOM_LAYOUT_GGML_IQ2_XS = 15,
  FATHOM_LAYOUT_GGML_IQ2_S = 16,
  FATHOM_LAYOUT_GGML_IQ3_XXS = 17,
  FATHOM_LAYOUT_GGML_IQ3_S = 18,
  FATHOM_LAYOUT_GGML_IQ1_S = 19,
  FATHOM_LAYOUT_GGML_IQ1_M = 20
};

typedef struct fathom_tensor_desc {
  uint32_t dtype;  /* FATHOM_DTYPE_* */
  uint32_t layout; /* FATHOM_LAYOUT_* */
  int32_t rank;    /* 0..FATHOM_MAX_RANK */
  int32_t reserved;
  /* Extents. FATHOM_DIM_TOKENS in the first dimension means "the number of tokens of this
   * run", supplied to run(); every other value is a fixed extent >= 0. */
  int64_t shape[FATHOM_MAX_RANK];
} fathom_tensor_desc;

#define FATHOM_DIM_TOKENS (-1)

/* ------------------------------------------------------------------------------------------ */
/* Operations (frozen ids) and their attributes                                                */
/* ------------------------------------------------------------------------------------------ */
/* Conventions for every op: activations are [T, ...] with T tokens (often FATHOM_DIM_TOKENS);
 * matrices follow PyTorch nn.Linear: W is [out, in] and y = x · Wᵀ. Inputs and outputs are
 * listed in order; "(opt)" inputs are present only when the attributes say so. */
enum {
  FATHOM_OP_INVALID = 0,
  /* out[T,D] = table[ids[t], :].            in: ids[T] i32, table[V,D]. */
  FATHOM_OP_EMBEDDING = 1,
  /* out = x / sqrt(mean(x²) + eps) ⊙ w.      in: x[T,D], w[D]. attrs: fathom_rms_norm_attrs */
  FATHOM_OP_RMS_NORM = 2,
  /* out[T,N] = x[T,K] · W[N,K]ᵀ.              in: x, W, (S if W is BLOCK_SCALED_128x128). */
  FATHOM_OP_MATMUL = 3,
  /* out = a + b, same shapes.                 in: a, b. */
  FATHOM_OP_ADD = 4,
  /* out = silu(gate) ⊙ up.                    in: gate[T,F], up[T,F]. */
  FATHOM_OP_SILU_MUL = 5,
  /* Rotary embedding with YaRN frequencies, DeepSeek's interleaved-pair convention: within each
   * head of x, elements (o + 2i, o + 2i + 1), o = rope_offset, rotate by angle pos·inv_freq_i.
   *                                           in: x[T, H·head_dim], positions[T] i32. out: like x.
   * attrs: fathom_rope_attrs */
  FATHOM_OP_ROPE_YARN = 6,
  /* Multi-head latent attention over a latent KV cache (DeepSeek-V2/V3 MLA).
   * in: q[T, H·(dn+dr)] (rope already applied to each head's last dr elements),
   *     latent[T, C] (normalised c_kv), k_pe[T, dr] (roped), positions[T] i32, slots[T] i32,
   *     kv_b[H·(dn+dv), C] (+ its scales when BLOCK_SCALED_128x128), cache[S, L, C + dr] (STATE).
   * out: o[T, H·dv].
   * First every token's [latent ; k_pe] is written to cache[slot][position]; then token t attends,
   * per head, over cache[slot[t]][0 ..= position[t]] (causal inside its sequence; sequences of a
   * batch never see each other). attrs: fathom_mla_attrs */
  FATHOM_OP_MLA_ATTENTION = 7,
  /* MoE router: fp32 scores, optional correction bias (selection only), group-limited top-k,
   * weights.   in: x[T, D], gate[E, D] (+ bias[E] f32 when has_bias).
   *            out: experts[T, K] i32, weights[T, K] f32.   attrs: fathom_moe_route_attrs */
  FATHOM_OP_MOE_ROUTE = 8,
  /* Routed experts: y[t] = Σ_k weights[t,k] · down_e(silu(gate_e(x[t])) ⊙ up_e(x[t])), e = experts[t,k].
   * in: x[T, D], experts[T, K] i32, weights[T, K] f32, then for each expert e = 0..E-1:
   *     gate_e[I, D], up_e[I, D], down_e[D, I], each followed by its scales when BLOCK_SCALED_128x128.
   * out: y[T, D].   attrs: fathom_moe_experts_attrs */
  FATHOM_OP_MOE_EXPERTS = 9,
  /* out = x[:, begin:begin+len] along the last dimension. attrs: fathom_slice_attrs */
  FATHOM_OP_SLICE = 10,
  /* out = concat(a, b) along the last dimension. */
  FATHOM_OP_CONCAT = 11,
  /* Element-wise copy with dtype conversion (same shape). */
  FATHOM_OP_CONVERT = 12,
  FATHOM_OP_COUNT_ = 13 /* one past the last id of this ABI minor; not an op */
};

typedef struct fathom_rms_norm_attrs {
  float eps;
} fathom_rms_norm_attrs;

typedef struct fathom_slice_attrs {
  int64_t begin;
  int64_t length;
} fathom_slice_attrs;

typedef struct fathom_rope_attrs {
  int32_t head_dim;       /* elements per head in x (the row is n_heads · head_dim) */
  int32_t rope_offset;    /* first rotated element inside each head */
  int32_t rope_dim;       /* number of rotated elements (even) */
  float theta;            /* base, e.g. 10000 */
  float yarn_factor;      /* s; <= 1 means plain RoPE */
  int32_t original_max_positions; /* YaRN L0: the correction range is computed from it */
  float beta_fast;
  float beta_slow;
  float amplitude;        /* multiplies cos and sin: mscale(s, mscale) / mscale(s, mscale_all_dim) */
} fathom_rope_attrs;

typedef struct fathom_mla_attrs {
  int32_t n_heads;        /* H */
  int32_t qk_nope_dim;    /* dn */
  int32_t qk_rope_dim;    /* dr */
  int32_t v_dim;          /* dv */
  int32_t kv_lora_rank;   /* C */
  int32_t absorbed;       /* 0: naive form (keys/values decompressed with kv_b); 1: absorbed form */
  float softmax_scale;    /* (dn + dr)^-0.5 · mscale², never 576^-0.5 */
  int32_t reserved;
} fathom_mla_attrs;

enum { FATHOM_SCORING_SOFTMAX = 0, FATHOM_SCORING_SIGMOID = 1 };
enum {
  FATHOM_TOPK_GREEDY = 0,               /* plain top-k of the scores (V2-Lite) */
  FATHOM_TOPK_GROUP_LIMITED_GREEDY = 1, /* groups ranked by their best score (V2) */
  FATHOM_TOPK_NOAUX_TC = 2              /* groups ranked by the sum of their top-2 biased scores (V3) */
};

typedef struct fathom_moe_route_attrs {
  int32_t n_experts;      /* E */
  int32_t top_k;          /* K */
  int32_t n_group;
  int32_t topk_group;
  int32_t scoring;        /* FATHOM_SCORING_* */
  int32_t topk_method;    /* FATHOM_TOPK_* */
  int32_t has_bias;       /* 1: e_score_correction_bias is the third input, used for selection only */
  int32_t norm_topk_prob; /* renormalise the K weights to sum 1 (V3: true) */
  float routed_scaling_factor; /* always multiplies the final weights */
  int32_t reserved;
} fathom_moe_route_attrs;

typedef struct fathom_moe_experts_attrs {
  int32_t n_experts;      /* E */
  int32_t top_k;          /* K */
  int32_t hidden;         /* D */
  int32_t intermediate;   /* I = moe_intermediate_size */
} fathom_moe_experts_attrs;

/* One op with its full signature: what capability queries and segments are made of. */
typedef struct fathom_op_desc {
  uint32_t struct_size;
  uint32_t op;            /* FATHOM_OP_* */
  uint32_t n_inputs;
  uint32_t n_outputs;
  const fathom_tensor_desc* inputs;
  const fathom_tensor_desc* outputs;
  const void* attrs;      /* the op's attrs struct, or NULL */
  uint32_t attrs_size;    /* sizeof that struct as the host knows it */
  uint32_t reserved;
} fathom_op_desc;

/* Answer to a capability query. */
enum { FATHOM_SUPPORT_NO = 0, FATHOM_SUPPORT_YES = 1, FATHOM_SUPPORT_PREFERRED = 2 };

typedef struct fathom_op_support {
  int32_t level;          /* FATHOM_SUPPORT_* */
  int32_t reserved;
  const char* reason;     /* why not (or a note); static string owned by the plugin; may be NULL */
} fathom_op_support;

/* ------------------------------------------------------------------------------------------ */
/* Devices, options, host services                                                            */
/* ------------------------------------------------------------------------------------------ */

enum { FATHOM_DEVICE_CPU = 0, FATHOM_DEVICE_GPU = 1, FATHOM_DEVICE_ACCELERATOR = 2 };

typedef struct fathom_device_info {
  uint32_t struct_size;
  uint32_t kind;             /* FATHOM_DEVICE_* */
  char name[128];            /* e.g. "NVIDIA H200", "AMD EPYC (2 threads)" */
  char description[256];     /* free text: ISA, driver, compute capability */
  uint64_t total_memory;     /* bytes; 0 if unknown */
  uint64_t free_memory;      /* bytes; 0 if unknown */
} fathom_device_info;

/* An option the plugin understands in its [backend.<name>] TOML table. The host checks the
 * table against this list (unknown key, wrong type = error naming file:line:column) before
 * create(), so a plugin only ever sees declared keys with the declared type. */
enum {
  FATHOM_OPTION_BOOL = 1,
  FATHOM_OPTION_INT = 2,     /* int64_t */
  FATHOM_OPTION_FLOAT = 3,   /* double */
  FATHOM_OPTION_STRING = 4
};

typedef struct fathom_option_decl {
  const char* name;
  uint32_t type;             /* FATHOM_OPTION_* */
  uint32_t reserved;
  const char* default_value; /* as text, for documentation and `fathom backends` */
  const char* doc;           /* one line */
} fathom_option_decl;

/* Read-only access to the values of the plugin's [backend.<name>] table. */
typedef struct fathom_options {
  const void* context;
  /* Returns 1 and writes *out when the key is set (with the declared type), 0 when it is not set. */
  int32_t (*get_bool)(const void* context, const char* key, int32_t* out);
  int32_t (*get_int)(const void* context, const char* key, int64_t* out);
  int32_t (*get_float)(const void* context, const char* key, double* out);
  /* The string stays valid during create(). */
  int32_t (*get_string)(const void* context, const char* key, const char** out);
} fathom_options;

enum { FATHOM_LOG_TRACE = 0, FATHOM_LOG_DEBUG = 1, FATHOM_LOG_INFO = 2, FATHOM_LOG_WARN = 3, FATHOM_LOG_ERROR = 4 };

/* Services the host offers to a plugin. */
typedef struct fathom_host_api {
  uint32_t struct_size;
  uint32_t abi_minor;        /* the host's minor version */
  void* context;
  void (*log)(void* context, int32_t level, const char* message);
} fathom_host_api;

/* ------------------------------------------------------------------------------------------ */
/* Memory                                                                                      */
/* ------------------------------------------------------------------------------------------ */

typedef struct fathom_backend fathom_backend;       /* opaque, owned by the plugin */
typedef struct fathom_buffer fathom_buffer;         /* opaque, owned by the plugin */
typedef struct fathom_executable fathom_executable; /* opaque, owned by the plugin */

/* A byte range of a buffer. */
typedef struct fathom_view {
  fathom_buffer* buffer;
  uint64_t offset;
  uint64_t size;
} fathom_view;

/* ------------------------------------------------------------------------------------------ */
/* Execution: a segment is a small graph the host hands over in one piece                      */
/* ------------------------------------------------------------------------------------------ */

/* Role of a tensor inside a segment. */
enum {
  FATHOM_ROLE_INPUT = 0,     /* bound at run(); read only */
  FATHOM_ROLE_OUTPUT = 1,    /* bound at run(); written */
  FATHOM_ROLE_WEIGHT = 2,    /* bound at compile(); constant for the executable's lifetime */
  FATHOM_ROLE_STATE = 3,     /* bound at compile(); read and written across runs (KV cache) */
  FATHOM_ROLE_INTERNAL = 4   /* produced and consumed inside the segment; the plugin allocates it */
};

typedef struct fathom_segment_tensor {
  fathom_tensor_desc desc;
  uint32_t role;             /* FATHOM_ROLE_* */
  uint32_t reserved;
  const char* name;          /* for messages */
} fathom_segment_tensor;

typedef struct fathom_segment_node {
  uint32_t op;               /* FATHOM_OP_* */
  uint32_t n_inputs;
  uint32_t n_outputs;
  uint32_t attrs_size;
  const uint32_t* inputs;    /* indices into fathom_segment.tensors */
  const uint32_t* outputs;
  const void* attrs;
  const char* name;
} fathom_segment_node;

/* A binding of a buffer range to one tensor of a segment. */
typedef struct fathom_binding {
  uint32_t tensor;           /* index into fathom_segment.tensors */
  uint32_t reserved;
  fathom_view view;
} fathom_binding;

typedef struct fathom_segment {
  uint32_t struct_size;
  uint32_t n_tensors;
  uint32_t n_nodes;
  uint32_t reserved;
  const fathom_segment_tensor* tensors;
  const fathom_segment_node* nodes;  /* in execution order */
  int64_t max_tokens;                /* upper bound for FATHOM_DIM_TOKENS at run() */
} fathom_segment;

/* Accumulated time of one node. */
typedef struct fathom_node_profile {
  uint64_t calls;
  uint64_t total_ns;
} fathom_node_profile;

/* ------------------------------------------------------------------------------------------ */
/* The table                                                                                   */
/* ------------------------------------------------------------------------------------------ */

typedef struct fathom_backend_api {
  uint32_t struct_size;      /* sizeof(fathom_backend_api) as compiled into the plugin */
  uint32_t abi_major;        /* FATHOM_ABI_MAJOR the plugin was built against */
  uint32_t abi_minor;
  uint32_t reserved;
  const char* name;          /* short name used in TOML: "reference", "cpu", "cuda" */
  const char* version;       /* plugin version, semver */

  /* Can this plugin run on this machine? Returns 0 when it cannot and writes the reason into
   * reason[0..reason_size) (NUL-terminated); a positive score otherwise. Must not throw or abort. */
  int32_t (*probe)(char* reason, size_t reason_size);

  /* Options the plugin accepts in its [backend.<name>] table; NULL-terminated array by name. */
  const fathom_option_decl* options;

  fathom_status (*create)(const fathom_host_api* host, const fathom_options* options, fathom_backend** out);
  void (*destroy)(fathom_backend* backend);

  uint32_t (*device_count)(fathom_backend* backend);
  fathom_status (*device_info)(fathom_backend* backend, uint32_t device, fathom_device_info* out);

  /* Op kinds this backend implements at all (for listings); writes up to capacity ids, returns
   * the total count. */
  uint32_t (*op_kinds)(fathom_backend* backend, uint32_t* out, uint32_t capacity);

  /* Batched capability query: for each of the n ops writes one answer. */
  fathom_status (*query_ops)(fathom_backend* backend, uint32_t device, const fathom_op_desc* ops,
                             size_t n, fathom_op_support* out);

  /* Memory. Buffers are owned by the backend and live on `device`. */
  fathom_status (*buffer_alloc)(fathom_backend* backend, uint32_t device, uint64_t size, fathom_buffer** out);
  /* (optional, may return UNSUPPORTED) wrap host memory without a copy, e.g. an mmap'd
   * checkpoint; the memory outlives the buffer. */
  fathom_status (*buffer_import_host)(fathom_backend* backend, uint32_t device, void* ptr, uint64_t size,
                                      fathom_buffer** out);
  void (*buffer_free)(fathom_backend* backend, fathom_buffer* buffer);
  /* (optional) host address of the buffer's first byte, or NULL when not host-visible. */
  void* (*buffer_host_pointer)(fathom_backend* backend, fathom_buffer* buffer);
  fathom_status (*buffer_upload)(fathom_backend* backend, fathom_view dst, const void* src);
  fathom_status (*buffer_download)(fathom_backend* backend, fathom_view src, void* dst);
  /* (may return UNSUPPORTED: the host then stages through host memory) device-side copy
   * between two views of this backend, sizes equal. */
  fathom_status (*buffer_copy)(fathom_backend* backend, fathom_view src, fathom_view dst);
  /* (may return UNSUPPORTED) dst row i = src row ids[i]; rows of row_bytes bytes. Used to move
   * only the routed experts' rows. */
  fathom_status (*buffer_gather_rows)(fathom_backend* backend, fathom_view src, fathom_view dst,
                                      const int32_t* ids, size_t n_ids, uint64_t row_bytes);

  /* Execution. compile() binds weights and state; run() binds inputs and outputs and executes
   * the whole segment for n_tokens tokens (<= segment->max_tokens). run() returns after the
   * outputs are complete. */
  fathom_status (*compile)(fathom_backend* backend, uint32_t device, const fathom_segment* segment,
                           const fathom_binding* bindings, size_t n_bindings, fathom_executable** out);
  fathom_status (*run)(fathom_backend* backend, fathom_executable* executable, const fathom_binding* bindings,
                       size_t n_bindings, int64_t n_tokens);
  void (*executable_destroy)(fathom_backend* backend, fathom_executable* executable);

  /* (optional) Time spent in each node of the executable since compile, in the segment's node
   * order: out[i] for node i, n = the segment's node count. For `fathom bench` breakdowns. */
  fathom_status (*executable_profile)(fathom_backend* backend, fathom_executable* executable,
                                      fathom_node_profile* out, size_t n);
} fathom_backend_api;

typedef const fathom_backend_api* (*fathom_backend_entry_fn)(uint32_t host_abi_major, uint32_t host_abi_minor);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* FATHOM_PLUGIN_API_H */
