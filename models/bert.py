"""BERT-base encoder as the Hugging Face exporter writes it.

Inputs: input_ids, attention_mask (int64 [batch, seq], seq symbolic).  Embeddings via
Gather (word, position ids sliced from a buffer, token types from a zero buffer expanded
to [batch, seq]), then LayerNorm.  Extended mask (1 - mask) * -10000 (or * float32 min).
Post-LN layers; attention with a Shape/Gather/Unsqueeze/Concat head split; pooler
(Gather CLS -> Gemm -> Tanh).

full:  12 layers, hidden 768, 12 heads, FFN 3072, vocab 30522, 512 positions (~109.5M).
small: 2 layers, hidden 128, 4 heads, FFN 512, vocab 1000, 64 positions.
"""

from __future__ import annotations

import math

import numpy as np

from .builder import QK_GAIN, F32, I64, GraphBuilder

# Residual-branch output projections are drawn narrower so that, in these post-LN layers,
# tokens keep their identity through 12 layers (random full-width branches make every
# token's state alike and the last layers' softmax flat).
OUT_GAIN = 0.4

CONFIGS = {
    "full": dict(layers=12, hidden=768, heads=12, ffn=3072, vocab=30522, positions=512,
                 types=2),
    "small": dict(layers=2, hidden=128, heads=4, ffn=512, vocab=1000, positions=64, types=2),
}


def build(size: str = "small", seed: int = 0, opset: int = 17, layernorm: str = "decomposed",
          gelu: str = "erf", attn_scale: str = "div", mask_value: str = "-10000",
          k_transpose: str = "0231", **_unused):
    cfg = CONFIGS[size]
    H, nh = cfg["hidden"], cfg["heads"]
    hd = H // nh
    eps = 1e-12
    b = GraphBuilder(f"bert_{size}", seed, opset)
    ids = b.add_input("input_ids", I64, ["batch", "seq"])
    mask = b.add_input("attention_mask", I64, ["batch", "seq"])

    with b.named("embeddings"):
        word = b.normal([cfg["vocab"], H], 0.5, "word_embeddings.weight")
        pos = b.normal([cfg["positions"], H], 0.5, "position_embeddings.weight")
        typ = b.normal([cfg["types"], H], 0.5, "token_type_embeddings.weight")
        pos_ids = b.init(np.arange(cfg["positions"], dtype=np.int64)[None, :], "position_ids")
        typ_ids = b.init(np.zeros((1, cfg["positions"]), dtype=np.int64),
                         "token_type_ids")
        bd, sd = b.dims(ids, [0, 1])
        zero, one = b.i64([0]), b.i64([1])
        pid = b.op("Slice", [pos_ids, zero, sd, one, one])            # [1, seq]
        tid = b.op("Slice", [typ_ids, zero, sd, one, one])
        tid = b.op("Expand", [tid, b.concat_shape([bd, sd])])        # [batch, seq]
        e = b.op("Gather", [word, ids], axis=0)
        e = b.op("Add", [e, b.op("Gather", [typ, tid], axis=0)])
        e = b.op("Add", [e, b.op("Gather", [pos, pid], axis=0)])
        x = b.layernorm(e, H, layernorm, "LayerNorm", eps)

    # extended attention mask [batch, 1, 1, seq]
    m = b.unsqueeze(mask, [1, 2])
    m = b.op("Cast", [m], to=F32)
    m = b.op("Sub", [b.const(1.0), m])
    mv = -10000.0 if mask_value == "-10000" else float(np.finfo(np.float32).min)
    ext = b.op("Mul", [m, b.const(mv)])

    kperm = (0, 2, 3, 1) if k_transpose == "0231" else (0, 2, 1, 3)
    for li in range(cfg["layers"]):
        with b.named(f"encoder.layer.{li}"):
            with b.named("attention"):
                q = b.linear(x, H, H, "self.query", std=QK_GAIN / math.sqrt(H))
                k = b.linear(x, H, H, "self.key", std=QK_GAIN / math.sqrt(H))
                v = b.linear(x, H, H, "self.value")
                ctx = b.attention_core(q, k, v, nh, hd, H, attn_scale, mask_add=ext,
                                       k_perm=kperm)
                o = b.linear(ctx, H, H, "output.dense", std=OUT_GAIN / math.sqrt(H))
                x = b.layernorm(b.op("Add", [o, x]), H, layernorm, "output.LayerNorm", eps)
            h = b.linear(x, H, cfg["ffn"], "intermediate.dense")
            h = b.gelu(h, gelu)
            o = b.linear(h, cfg["ffn"], H, "output.dense", std=OUT_GAIN / math.sqrt(cfg["ffn"]))
            x = b.layernorm(b.op("Add", [o, x]), H, layernorm, "output.LayerNorm", eps)

    last = b.op("Identity", [x], outputs=["last_hidden_state"])
    b.add_output(last, F32, ["batch", "seq", H])
    with b.named("pooler"):
        cls = b.op("Gather", [x, b.i64(0)], axis=1)                    # [batch, H]
        p = b.gemm(cls, H, H, "dense")
        p = b.op("Tanh", [p], outputs=["pooler_output"])
    b.add_output(p, F32, ["batch", H])
    return b.model(f"BERT ({size}), seed {seed}, layernorm={layernorm}, gelu={gelu}, "
                   f"scale={attn_scale}")


def example_inputs(size: str, batch: int = 2, seq: int = 16, seed: int = 0, **_unused) -> dict:
    cfg = CONFIGS[size]
    rng = np.random.default_rng(seed + 1000)
    ids = rng.integers(0, cfg["vocab"], size=(batch, seq), dtype=np.int64)
    mask = np.ones((batch, seq), dtype=np.int64)
    # later rows padded at the end, as a tokenizer batch would be
    for r in range(1, batch):
        mask[r, max(1, seq - 3 * r):] = 0
    return {"input_ids": ids, "attention_mask": mask}
