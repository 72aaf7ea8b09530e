"""ResNet-50 (torchvision v1.5: stride on the 3x3 conv) as torch exports it in
training-aware form: Conv without bias, then BatchNormalization, then Relu.

full:  stages [3, 4, 6, 3], widths 64..512 (x4 expansion), 224x224 input, fc 1000
       -> 53 Conv (incl. 4 downsample), ~25.56M parameters.
small: 1 bottleneck per stage, widths 16..128, 64x64 input, fc 10.
"""

from __future__ import annotations

import math

import numpy as np

from .builder import F32, GraphBuilder

CONFIGS = {
    "full": dict(blocks=[3, 4, 6, 3], widths=[64, 128, 256, 512], stem=64, image=224,
                 classes=1000),
    "small": dict(blocks=[1, 1, 1, 1], widths=[16, 32, 64, 128], stem=16, image=64, classes=10),
}


def conv_bn(b: GraphBuilder, x: str, cin: int, cout: int, k: int, stride: int, name: str,
            relu: bool = True, gamma_scale: float = 1.0) -> str:
    with b.named(name):
        w = b.normal([cout, cin, k, k], math.sqrt(2.0 / (cin * k * k)), "conv.weight")
        y = b.op("Conv", [x, w], kernel_shape=[k, k], strides=[stride, stride],
                 pads=[k // 2] * 4, dilations=[1, 1], group=1)
        # Non-trivial running statistics; scale/shift keep activations near unit scale.
        gamma = b.uniform([cout], 0.6 * gamma_scale, 1.2 * gamma_scale, "bn.weight")
        beta = b.normal([cout], 0.1, "bn.bias")
        mean = b.normal([cout], 0.1, "bn.running_mean")
        var = b.uniform([cout], 0.5, 1.5, "bn.running_var")
        y = b.op("BatchNormalization", [y, gamma, beta, mean, var], epsilon=1e-5,
                 momentum=0.9)
        if relu:
            y = b.op("Relu", [y])
    return y


def build(size: str = "small", seed: int = 0, opset: int = 17, head: str = "flatten",
          **_unused):
    cfg = CONFIGS[size]
    b = GraphBuilder(f"resnet50_{size}", seed, opset)
    x = b.add_input("input", F32, ["batch", 3, cfg["image"], cfg["image"]])
    y = conv_bn(b, x, 3, cfg["stem"], 7, 2, "conv1")
    y = b.op("MaxPool", [y], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    cin = cfg["stem"]
    for si, (n, w) in enumerate(zip(cfg["blocks"], cfg["widths"])):
        for bi in range(n):
            stride = 2 if (bi == 0 and si > 0) else 1
            cout = w * 4
            name = f"layer{si + 1}.{bi}"
            with b.named(name):
                h = conv_bn(b, y, cin, w, 1, 1, "conv1")
                h = conv_bn(b, h, w, w, 3, stride, "conv2")
                h = conv_bn(b, h, w, cout, 1, 1, "conv3", relu=False, gamma_scale=0.4)
                if bi == 0:
                    sc = conv_bn(b, y, cin, cout, 1, stride, "downsample", relu=False)
                else:
                    sc = y
                y = b.op("Relu", [b.op("Add", [h, sc])])
            cin = cout
    y = b.op("GlobalAveragePool", [y])
    if head == "flatten":
        y = b.op("Flatten", [y], axis=1)
    elif head == "reshape":  # torch.flatten via view(x.size(0), -1) in older exports
        (bd,) = b.dims(y, [0])
        y = b.op("Reshape", [y, b.concat_shape([bd, -1])])
    else:
        raise ValueError(f"unknown head {head!r}")
    y = b.gemm(y, cin, cfg["classes"], "fc", out_name="logits")
    b.add_output(y, F32, ["batch", cfg["classes"]])
    m = b.model(f"ResNet-50 ({size}), seed {seed}")
    return m


def example_inputs(size: str, batch: int = 2, seed: int = 0, **_unused) -> dict:
    img = CONFIGS[size]["image"]
    rng = np.random.default_rng(seed + 1000)
    return {"input": rng.standard_normal((batch, 3, img, img), dtype=np.float32)}
