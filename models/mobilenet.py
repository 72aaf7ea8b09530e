"""MobileNetV2 (torchvision layout): inverted residual blocks with depthwise 3x3 Conv
(group = channels), BatchNormalization and ReLU6.

ReLU6 idioms: ``clip`` = Clip(x, min, max) with min/max as initializers (torch >= 1.x
export), ``clip-const`` = min/max from Constant nodes, ``minmax`` = Max(x, 0) then Min(.., 6).
Folding: ``bn`` keeps Conv (no bias) + BatchNormalization (training-aware export);
``folded`` writes Conv with bias only (what export with constant folding produces).

full:  width 1.0, the 17 standard blocks, 1280-channel last conv, 224x224, fc 1000 (~3.50M).
small: width 0.5, one block per stage, 320 -> 256 last conv, 32x32, fc 10.
"""

from __future__ import annotations

import math

import numpy as np

from .builder import F32, GraphBuilder

# t (expansion), c (channels), n (repeats), s (stride)
SETTINGS = [[1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 3, 2], [6, 64, 4, 2], [6, 96, 3, 1],
            [6, 160, 3, 2], [6, 320, 1, 1]]

CONFIGS = {
    "full": dict(width=1.0, repeats=None, last=1280, image=224, classes=1000),
    "small": dict(width=0.5, repeats=1, last=256, image=32, classes=10),
}


def _make_divisible(v: float, divisor: int = 8) -> int:
    new_v = max(divisor, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


def _relu6(b: GraphBuilder, x: str, mode: str) -> str:
    if mode == "clip":
        return b.op("Clip", [x, b.const(0.0), b.const(6.0)])
    if mode == "clip-const":
        return b.op("Clip", [x, b.const_node(0.0), b.const_node(6.0)])
    if mode == "minmax":
        return b.op("Min", [b.op("Max", [x, b.const(0.0)]), b.const(6.0)])
    raise ValueError(f"unknown relu6 mode {mode!r}")


def conv_bn(b: GraphBuilder, x: str, cin: int, cout: int, k: int, stride: int, groups: int,
            name: str, act: str | None, bn: str, gamma_scale: float = 1.0) -> str:
    with b.named(name):
        fan_in = (cin // groups) * k * k
        wv = b.rng.standard_normal((cout, cin // groups, k, k), dtype=np.float32)
        wv *= np.float32(math.sqrt(2.0 / fan_in))
        gamma = b.rng.uniform(0.6 * gamma_scale, 1.2 * gamma_scale, cout).astype(np.float32)
        beta = (b.rng.standard_normal(cout) * 0.1).astype(np.float32)
        mean = (b.rng.standard_normal(cout) * 0.1).astype(np.float32)
        var = b.rng.uniform(0.5, 1.5, cout).astype(np.float32)
        attrs = dict(kernel_shape=[k, k], strides=[stride, stride], pads=[(k - 1) // 2] * 4,
                     dilations=[1, 1], group=groups)
        if bn == "bn":
            y = b.op("Conv", [x, b.init(wv, "conv.weight")], **attrs)
            y = b.op("BatchNormalization",
                     [y, b.init(gamma, "bn.weight"), b.init(beta, "bn.bias"),
                      b.init(mean, "bn.running_mean"), b.init(var, "bn.running_var")],
                     epsilon=1e-5, momentum=0.9)
        elif bn == "folded":
            s = gamma / np.sqrt(var + np.float32(1e-5))
            wf = (wv * s[:, None, None, None]).astype(np.float32)
            bf = (beta - mean * s).astype(np.float32)
            y = b.op("Conv", [x, b.init(wf, "conv.weight"), b.init(bf, "conv.bias")], **attrs)
        else:
            raise ValueError(f"unknown bn mode {bn!r}")
        if act is not None:
            y = _relu6(b, y, act)
    return y


def build(size: str = "small", seed: int = 0, opset: int = 17, relu6: str = "clip",
          bn: str = "bn", **_unused):
    cfg = CONFIGS[size]
    b = GraphBuilder(f"mobilenetv2_{size}", seed, opset)
    x = b.add_input("input", F32, ["batch", 3, cfg["image"], cfg["image"]])
    cin = _make_divisible(32 * cfg["width"])
    y = conv_bn(b, x, 3, cin, 3, 2, 1, "features.0", relu6, bn)
    idx = 1
    for t, c, n, s in SETTINGS:
        cout = _make_divisible(c * cfg["width"])
        n = n if cfg["repeats"] is None else min(n, cfg["repeats"])
        for i in range(n):
            stride = s if i == 0 else 1
            hidden = int(round(cin * t))
            with b.named(f"features.{idx}"):
                h = y
                if t != 1:
                    h = conv_bn(b, h, cin, hidden, 1, 1, 1, "expand", relu6, bn)
                h = conv_bn(b, h, hidden, hidden, 3, stride, hidden, "depthwise", relu6, bn)
                h = conv_bn(b, h, hidden, cout, 1, 1, 1, "project", None, bn, gamma_scale=0.5)
                if stride == 1 and cin == cout:
                    h = b.op("Add", [y, h])
            y = h
            cin = cout
            idx += 1
    last = cfg["last"]
    y = conv_bn(b, y, cin, last, 1, 1, 1, f"features.{idx}", relu6, bn)
    y = b.op("GlobalAveragePool", [y])
    y = b.op("Flatten", [y], axis=1)
    y = b.gemm(y, last, cfg["classes"], "classifier.1", out_name="logits")
    b.add_output(y, F32, ["batch", cfg["classes"]])
    return b.model(f"MobileNetV2 ({size}), seed {seed}")


def example_inputs(size: str, batch: int = 2, seed: int = 0, **_unused) -> dict:
    img = CONFIGS[size]["image"]
    rng = np.random.default_rng(seed + 1000)
    return {"input": rng.standard_normal((batch, 3, img, img), dtype=np.float32)}
