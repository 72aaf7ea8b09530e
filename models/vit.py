"""ViT-B/16 (Hugging Face ViTModel + classification head).

Patch embedding Conv (kernel = stride = patch) -> flatten(2) as a Reshape whose target is
computed through Shape/Gather/Unsqueeze/Concat -> Transpose -> CLS token Expanded to the
batch and Concatenated -> + position embeddings -> pre-LN encoder layers -> LayerNorm ->
CLS (Gather) -> Gemm classifier.

full:  224x224, patch 16, hidden 768, 12 layers, 12 heads, MLP 3072, 1000 classes (~86.6M).
small: 32x32, patch 8, hidden 64, 2 layers, 4 heads, MLP 128, 10 classes.
"""

from __future__ import annotations

import math

import numpy as np

from .builder import QK_GAIN, F32, GraphBuilder

CONFIGS = {
    "full": dict(image=224, patch=16, hidden=768, layers=12, heads=12, mlp=3072, classes=1000),
    "small": dict(image=32, patch=8, hidden=64, layers=2, heads=4, mlp=128, classes=10),
}


def build(size: str = "small", seed: int = 0, opset: int = 17, layernorm: str = "fused",
          gelu: str = "erf", attn_scale: str = "div", k_transpose: str = "0213", **_unused):
    cfg = CONFIGS[size]
    H, nh, P = cfg["hidden"], cfg["heads"], cfg["patch"]
    hd = H // nh
    n_patches = (cfg["image"] // P) ** 2
    eps = 1e-12
    b = GraphBuilder(f"vit_b16_{size}", seed, opset)
    x = b.add_input("pixel_values", F32, ["batch", 3, cfg["image"], cfg["image"]])

    with b.named("embeddings"):
        w = b.normal([H, 3, P, P], math.sqrt(1.0 / (3 * P * P)), "patch_embeddings.weight")
        bias = b.normal([H], 0.02, "patch_embeddings.bias")
        y = b.op("Conv", [x, w, bias], kernel_shape=[P, P], strides=[P, P])  # [b, H, h, w]
        bd, cd = b.dims(y, [0, 1])
        y = b.op("Reshape", [y, b.concat_shape([bd, cd, -1])])           # flatten(2)
        y = b.op("Transpose", [y], perm=[0, 2, 1])                          # [b, N, H]
        cls = b.normal([1, 1, H], 0.5, "cls_token")
        cls = b.op("Expand", [cls, b.concat_shape([bd, 1, 1])])
        y = b.op("Concat", [cls, y], axis=1)
        pos = b.normal([1, n_patches + 1, H], 0.5, "position_embeddings")
        x = b.op("Add", [y, pos])

    kperm = (0, 2, 3, 1) if k_transpose == "0231" else (0, 2, 1, 3)
    for li in range(cfg["layers"]):
        with b.named(f"encoder.layer.{li}"):
            h = b.layernorm(x, H, layernorm, "layernorm_before", eps)
            q = b.linear(h, H, H, "attention.query", std=QK_GAIN / math.sqrt(H))
            k = b.linear(h, H, H, "attention.key", std=QK_GAIN / math.sqrt(H))
            v = b.linear(h, H, H, "attention.value")
            ctx = b.attention_core(q, k, v, nh, hd, H, attn_scale, k_perm=kperm)
            o = b.linear(ctx, H, H, "attention.output.dense",
                         std=1.0 / math.sqrt(H * cfg["layers"]))
            x = b.op("Add", [o, x])
            h = b.layernorm(x, H, layernorm, "layernorm_after", eps)
            h = b.gelu(b.linear(h, H, cfg["mlp"], "intermediate.dense"), gelu)
            o = b.linear(h, cfg["mlp"], H, "output.dense",
                         std=1.0 / math.sqrt(cfg["mlp"] * cfg["layers"]))
            x = b.op("Add", [o, x])
    x = b.layernorm(x, H, layernorm, "layernorm", eps)
    cls = b.op("Gather", [x, b.i64(0)], axis=1)
    logits = b.gemm(cls, H, cfg["classes"], "classifier", out_name="logits")
    b.add_output(logits, F32, ["batch", cfg["classes"]])
    return b.model(f"ViT-B/16 ({size}), seed {seed}, layernorm={layernorm}, gelu={gelu}")


def example_inputs(size: str, batch: int = 2, seed: int = 0, **_unused) -> dict:
    img = CONFIGS[size]["image"]
    rng = np.random.default_rng(seed + 1000)
    return {"pixel_values": rng.standard_normal((batch, 3, img, img), dtype=np.float32)}
