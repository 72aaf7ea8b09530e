"""GPT-2 small style decoder (Hugging Face GPT2LMHeadModel, no KV cache).

input_ids int64 [batch, seq] only.  Token embedding Gather + position embedding Gather of
Range(0, seq); pre-LN blocks with a fused c_attn MatMul split into q/k/v by Split; causal
attention; ln_f; tied LM head (MatMul with Transpose of the token embedding).

Causal mask idioms:
  ``constant`` - the HF buffer: a bool tril [1, 1, P, P] Sliced to [.., k-q:k, :k] with
                 bounds from Shape, then Where(mask, scores, float32 min);
  ``trilu``    - ConstantOfShape([seq, seq]) ones -> Trilu(upper, k=1) -> Mul(-10000) -> Add.

full:  12 layers, hidden 768, 12 heads, MLP 3072, vocab 50257, 1024 positions (~124.4M).
small: 2 layers, hidden 64, 4 heads, MLP 256, vocab 512, 64 positions.
"""

from __future__ import annotations

import math

import numpy as np
from onnx import TensorProto, helper

from .builder import QK_GAIN, F32, I64, GraphBuilder

CONFIGS = {
    "full": dict(layers=12, hidden=768, heads=12, mlp=3072, vocab=50257, positions=1024),
    "small": dict(layers=2, hidden=64, heads=4, mlp=256, vocab=512, positions=64),
}


def build(size: str = "small", seed: int = 0, opset: int = 17, layernorm: str = "fused",
          gelu: str = "tanh", attn_scale: str = "mul", causal: str = "trilu",
          k_transpose: str = "0213", **_unused):
    cfg = CONFIGS[size]
    H, nh, L = cfg["hidden"], cfg["heads"], cfg["layers"]
    hd = H // nh
    b = GraphBuilder(f"gpt2_{size}", seed, opset)
    ids = b.add_input("input_ids", I64, ["batch", "seq"])

    wte = b.normal([cfg["vocab"], H], 0.1, "transformer.wte.weight")
    wpe = b.normal([cfg["positions"], H], 0.1, "transformer.wpe.weight")
    seq = b.dim_scalar(ids, 1)
    pos_ids = b.op("Range", [b.i64(0), seq, b.i64(1)])
    pos_ids = b.unsqueeze(pos_ids, [0])                                  # [1, seq]
    x = b.op("Add", [b.op("Gather", [wte, ids], axis=0), b.op("Gather", [wpe, pos_ids], axis=0)])

    mask_add = None
    causal_fn = None
    if causal == "trilu":
        (sd,) = b.dims(ids, [1])
        ones = b.op("ConstantOfShape", [b.concat_shape([sd, sd])],
                    value=helper.make_tensor("value", TensorProto.FLOAT, [1], [1.0]))
        upper = b.op("Trilu", [ones, b.i64(1)], upper=1)                 # strictly above diag
        mask_add = b.op("Mul", [upper, b.const(-10000.0)])               # [seq, seq]
    elif causal == "constant":
        P = cfg["positions"]
        bias = b.init(np.tril(np.ones((P, P), dtype=bool))[None, None], "attn.bias")
        fmin = b.const(float(np.finfo(np.float32).min))

        def causal_fn(scores):
            # HF: query_length, key_length = query.size(-2), key.size(-2)
            #     causal_mask = bias[:, :, key_length - query_length:key_length, :key_length]
            shape = b.op("Shape", [scores])
            ql = b.unsqueeze(b.op("Gather", [shape, b.i64(2)], axis=0), [0])
            kl = b.unsqueeze(b.op("Gather", [shape, b.i64(3)], axis=0), [0])
            start = b.op("Sub", [kl, ql])
            starts = b.op("Concat", [start, b.i64([0])], axis=0)
            ends = b.op("Concat", [kl, kl], axis=0)
            cm = b.op("Slice", [bias, starts, ends, b.i64([2, 3])])
            return b.op("Where", [cm, scores, fmin])
    else:
        raise ValueError(f"unknown causal mode {causal!r}")

    kperm = (0, 2, 3, 1) if k_transpose == "0231" else (0, 2, 1, 3)
    proj_std = 1.0 / math.sqrt(2 * L * H)
    qk_gain = np.concatenate([np.full(2 * H, QK_GAIN), np.ones(H)])
    for li in range(L):
        with b.named(f"transformer.h.{li}"):
            h = b.layernorm(x, H, layernorm, "ln_1", 1e-5)
            qkv = b.linear(h, H, 3 * H, "attn.c_attn", col_gain=qk_gain)
            q, k, v = b.op("Split", [qkv, b.i64([H, H, H])], n_out=3, axis=2)
            ctx = b.attention_core(q, k, v, nh, hd, H, attn_scale, mask_add=mask_add,
                                   k_perm=kperm, causal=causal_fn)
            x = b.op("Add", [x, b.linear(ctx, H, H, "attn.c_proj", std=proj_std)])
            h = b.layernorm(x, H, layernorm, "ln_2", 1e-5)
            h = b.gelu(b.linear(h, H, cfg["mlp"], "mlp.c_fc"), gelu)
            x = b.op("Add", [x, b.linear(h, cfg["mlp"], H, "mlp.c_proj",
                                         std=1.0 / math.sqrt(2 * L * cfg["mlp"]))])
    x = b.layernorm(x, H, layernorm, "transformer.ln_f", 1e-5)
    wt = b.op("Transpose", [wte], perm=[1, 0], name="lm_head.Transpose")
    logits = b.op("MatMul", [x, wt], outputs=["logits"], name="lm_head")
    b.add_output(logits, F32, ["batch", "seq", cfg["vocab"]])
    return b.model(f"GPT-2 ({size}), seed {seed}, layernorm={layernorm}, gelu={gelu}, "
                   f"causal={causal}")


def example_inputs(size: str, batch: int = 2, seq: int = 16, seed: int = 0, **_unused) -> dict:
    cfg = CONFIGS[size]
    rng = np.random.default_rng(seed + 1000)
    return {"input_ids": rng.integers(0, cfg["vocab"], size=(batch, seq), dtype=np.int64)}
