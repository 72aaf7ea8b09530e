#!/usr/bin/env python3
"""Generate the kiln test/benchmark models.

  python models/generate.py --model bert --size small --out DIR [--seed N]
      [--layernorm decomposed|fused] [--gelu erf|tanh] [--attn-scale div|mul] [--opset 17]
  python models/generate.py --model all --size full --out DIR
  python models/generate.py --summary [--size full]       # parameters and nodes, no files

Options a model does not use are ignored (e.g. --gelu for ResNet).  Files are named
MODEL_SIZE.onnx; --name overrides that for a single model.  Models over 2 GB would be
written with external data (none of these is).
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import onnx  # noqa: E402

import models  # noqa: E402

OPTION_NAMES = ["layernorm", "gelu", "attn_scale", "mask_value", "k_transpose", "causal",
                "relu6", "bn", "head"]


def save(model: onnx.ModelProto, path: str) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    if model.ByteSize() > 2_000_000_000:
        onnx.save_model(model, path, save_as_external_data=True, all_tensors_to_one_file=True,
                        location=os.path.basename(path) + ".data")
    else:
        onnx.save_model(model, path)


def summarize(model: onnx.ModelProto) -> str:
    ops = collections.Counter(n.op_type for n in model.graph.node)
    top = ", ".join(f"{k} {v}" for k, v in ops.most_common(8))
    return (f"params {models.param_count(model):,}  nodes {len(model.graph.node)}  "
            f"initializers {len(model.graph.initializer)}  [{top}]")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("--model", default="all",
                    help="resnet50, mobilenetv2, bert, vit, gpt2 or all")
    ap.add_argument("--size", choices=["small", "full"], default="small")
    ap.add_argument("--out", help="output directory")
    ap.add_argument("--name", help="file name (single model only)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--opset", type=int, default=17)
    ap.add_argument("--layernorm", choices=["decomposed", "fused"])
    ap.add_argument("--gelu", choices=["erf", "tanh"])
    ap.add_argument("--attn-scale", choices=["div", "mul"])
    ap.add_argument("--mask-value", choices=["-10000", "min"], help="BERT extended mask")
    ap.add_argument("--k-transpose", choices=["0231", "0213"],
                    help="K as one Transpose(0,2,3,1) or Transpose(0,2,1,3)+Transpose(0,1,3,2)")
    ap.add_argument("--causal", choices=["trilu", "constant"], help="GPT-2 causal mask")
    ap.add_argument("--relu6", choices=["clip", "clip-const", "minmax"], help="MobileNetV2")
    ap.add_argument("--bn", choices=["bn", "folded"], help="MobileNetV2 BatchNorm form")
    ap.add_argument("--head", choices=["flatten", "reshape"], help="ResNet-50 flatten form")
    ap.add_argument("--summary", action="store_true",
                    help="print parameter and node counts (writes files only with --out)")
    ap.add_argument("--check", action="store_true", help="run onnx.checker on each model")
    args = ap.parse_args(argv)

    names = list(models.MODELS) if args.model == "all" else [models.canonical(args.model)]
    if args.name and len(names) != 1:
        ap.error("--name needs a single --model")
    if not args.out and not args.summary:
        ap.error("give --out DIR (or --summary)")
    opts = {k: getattr(args, k) for k in OPTION_NAMES if getattr(args, k) is not None}

    for name in names:
        t0 = time.perf_counter()
        try:
            m = models.build(name, size=args.size, seed=args.seed, opset=args.opset, **opts)
        except ValueError as e:
            ap.error(f"{name}: {e}")
        t1 = time.perf_counter()
        if args.check:
            onnx.checker.check_model(m)
        line = f"{name} {args.size}: "
        if args.out:
            path = os.path.join(args.out, args.name or f"{name}_{args.size}.onnx")
            save(m, path)
            line += f"{path} ({os.path.getsize(path) / 1e6:.1f} MB) "
        if args.summary:
            line += summarize(m)
        print(line + f" built in {t1 - t0:.1f}s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
