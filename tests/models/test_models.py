#!/usr/bin/env python3
"""End-to-end check of kiln on the generated models (small variants).

For each case: generate the model into a temp dir, onnx.checker it, run it with
onnxruntime (CPU, graph optimizations disabled: a faithful reference) and with
``build/kiln run MODEL --input name=file.npy ... --output-dir D``, and compare every
output.  Error measure: max |kiln - ort| / max |ort| per output (fp32); a case passes
when it is <= 1e-4 for every output and the shapes match.

    python tests/models/test_models.py [-k SUBSTRING] [--kiln PATH] [--keep DIR]
                                       [--kiln-arg=--opt-level=3 ...]

Prints one line per case and ``models: N passed, M failed``; exits 1 on any failure.
Also collectable by pytest (one test per case).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)

import onnx  # noqa: E402
import onnxruntime as ort  # noqa: E402

import models  # noqa: E402

TOLERANCE = 1e-4
DEFAULT_KILN = os.path.join(ROOT, "build", "kiln")

# (case id, model, build options, example-input options, extra kiln args)
CASES = [
    ("resnet50-flatten", "resnet50", dict(head="flatten"), dict(batch=2), []),
    ("resnet50-reshape-b1", "resnet50", dict(head="reshape", seed=3), dict(batch=1), []),
    ("resnet50-engine", "resnet50", dict(head="flatten"), dict(batch=3), ["engine"]),
    ("mobilenetv2-clip-bn", "mobilenetv2", dict(relu6="clip", bn="bn"), dict(batch=2), []),
    ("mobilenetv2-clipconst-folded", "mobilenetv2", dict(relu6="clip-const", bn="folded"),
     dict(batch=1), []),
    ("mobilenetv2-minmax-bn", "mobilenetv2", dict(relu6="minmax", bn="bn", seed=5),
     dict(batch=2), []),
    ("bert-decomposed-erf-div", "bert",
     dict(layernorm="decomposed", gelu="erf", attn_scale="div", mask_value="-10000",
          k_transpose="0231"), dict(batch=2, seq=16), []),
    ("bert-fused-tanh-mul-min", "bert",
     dict(layernorm="fused", gelu="tanh", attn_scale="mul", mask_value="min",
          k_transpose="0213"), dict(batch=2, seq=16), []),
    ("bert-decomposed-opset13-seq7", "bert",
     dict(layernorm="decomposed", gelu="erf", attn_scale="div", opset=13, seed=7),
     dict(batch=3, seq=7), []),
    ("bert-decomposed-opset18", "bert",
     dict(layernorm="decomposed", gelu="tanh", attn_scale="mul", opset=18, seed=2),
     dict(batch=1, seq=16), []),
    ("bert-engine-seq5", "bert", dict(layernorm="decomposed", gelu="erf"),
     dict(batch=2, seq=5), ["engine"]),
    ("vit-fused-erf-div", "vit", dict(layernorm="fused", gelu="erf", attn_scale="div"),
     dict(batch=2), []),
    ("vit-decomposed-tanh-mul", "vit",
     dict(layernorm="decomposed", gelu="tanh", attn_scale="mul", k_transpose="0231", seed=4),
     dict(batch=1), []),
    ("gpt2-fused-tanh-mul-trilu", "gpt2",
     dict(layernorm="fused", gelu="tanh", attn_scale="mul", causal="trilu"),
     dict(batch=2, seq=16), []),
    ("gpt2-decomposed-erf-div-constant", "gpt2",
     dict(layernorm="decomposed", gelu="erf", attn_scale="div", causal="constant",
          k_transpose="0231"), dict(batch=2, seq=16), []),
    ("gpt2-constant-seq9", "gpt2",
     dict(layernorm="fused", gelu="tanh", attn_scale="mul", causal="constant", seed=9),
     dict(batch=1, seq=9), []),
]


def ort_run(path: str, inputs: dict) -> tuple[list[str], list[np.ndarray]]:
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    so.intra_op_num_threads = 1
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    return names, sess.run(None, inputs)


def kiln_run(kiln: str, path: str, inputs: dict, work: str, engine: bool,
             kiln_args: list[str] | None = None) -> dict:
    kiln_args = list(kiln_args or [])
    args = []
    for name, arr in inputs.items():
        f = os.path.join(work, f"in_{name}.npy")
        np.save(f, arr)
        args += ["--input", f"{name}={f}"]
    target = path
    if engine:
        target = os.path.join(work, "model.kiln")
        r = subprocess.run([kiln, "build", path, "-o", target, *kiln_args], capture_output=True, text=True,
                           timeout=300)
        if r.returncode != 0:
            raise RuntimeError(f"kiln build failed (rc {r.returncode}): "
                               f"{(r.stderr or r.stdout).strip()[-2000:]}")
    outdir = os.path.join(work, "kiln_out")
    run_args = [] if engine else kiln_args  # an engine carries its build options
    r = subprocess.run([kiln, "run", target, *args, "--output-dir", outdir, *run_args],
                       capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        raise RuntimeError(f"kiln run failed (rc {r.returncode}): "
                           f"{(r.stderr or r.stdout).strip()[-2000:]}")
    return {f[:-4]: np.load(os.path.join(outdir, f)) for f in os.listdir(outdir)
            if f.endswith(".npy")}


def inspect_layers(kiln: str, path: str) -> list[dict]:
    """The optimized engine's layers (kiln inspect --json, default --opt-level 3)."""
    import json
    r = subprocess.run([kiln, "inspect", path, "--json"], capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        raise RuntimeError(f"kiln inspect failed: {(r.stderr or r.stdout).strip()[-2000:]}")
    return json.loads(r.stdout)["layers"]


# Ops the optimizer must leave no trace of, per model family.
GONE = {
    "cnn": ["BatchNormalization", "Relu", "Clip", "Min", "Max", "Add"],
    "transformer": ["Erf", "Tanh", "Pow", "ReduceMean", "Sqrt", "Softmax", "Transpose", "Div"],
}


def structure_problems(name: str, size: str, layers: list[dict]) -> list[str]:
    """What the optimizer failed to fuse: every BatchNormalization folded and activation fused
    in CNNs; one Attention, two LayerNormalization, a GELU in a MatMul epilogue and Q/K/V as
    one MatMul read in place by the Attention (qkv_packed) per transformer layer."""
    import collections
    ops = collections.Counter(l["op"] for l in layers)
    family = "cnn" if name in ("resnet50", "mobilenetv2") else "transformer"
    allowed = {"Transpose": 1} if name == "vit" else {}  # ViT's patch flatten [B,C,N] -> [B,N,C]
    probs = [f"{ops[o]} {o} left" for o in GONE[family] if ops[o] > allowed.get(o, 0)]
    if name == "resnet50" and size == "full" and len(layers) > 60:
        probs.append(f"{len(layers)} layers (at most 60)")
    if family == "transformer":
        n = getattr(models, name).CONFIGS[size]["layers"]
        gelus = sum(1 for l in layers if "Gelu" in l.get("detail", ""))
        # Q/K/V as one product (BERT's and ViT's separate projections merged; GPT-2's c_attn),
        # read in place by a packed Attention: no Split left.
        want = {"kiln.Attention": n, "LayerNormalization": 2 * n + 1, "Split": 0}
        for op, k in want.items():
            if ops[op] != k:
                probs.append(f"{ops[op]} {op} (want {k})")
        packed = sum(1 for l in layers if l["op"] == "kiln.Attention" and "qkv_packed" in l.get("detail", ""))
        if packed != n:
            probs.append(f"{packed} packed QKV attentions (want {n})")
        if gelus != n:
            probs.append(f"{gelus} layers with a fused GELU (want {n})")
    return probs


def rel_err(got: np.ndarray, ref: np.ndarray) -> float:
    ref64, got64 = ref.astype(np.float64), got.astype(np.float64)
    if not np.all(np.isfinite(got64)):
        return float("inf")
    denom = max(float(np.max(np.abs(ref64))), 1e-12) if ref.size else 1.0
    return float(np.max(np.abs(got64 - ref64))) / denom if ref.size else 0.0


def run_case(case, kiln: str = DEFAULT_KILN, keep: str | None = None,
             kiln_args: list[str] | None = None) -> tuple[bool, str]:
    cid, name, bopts, iopts, extra = case
    bopts = dict(bopts)
    seed = bopts.pop("seed", 0)
    opset = bopts.pop("opset", 17)
    work = keep and os.path.join(keep, cid)
    tmp = None
    if work:
        os.makedirs(work, exist_ok=True)
    else:
        tmp = tempfile.TemporaryDirectory(prefix=f"kiln-{cid}-")
        work = tmp.name
    try:
        m = models.build(name, size="small", seed=seed, opset=opset, **bopts)
        path = os.path.join(work, "model.onnx")
        onnx.save_model(m, path)
        onnx.checker.check_model(path, full_check=True)
        inputs = models.example_inputs(name, "small", seed=seed, **iopts)
        names, ref = ort_run(path, inputs)
        for n, r in zip(names, ref):
            if not np.all(np.isfinite(r)):
                return False, f"reference output {n} is not finite"
        try:
            got = kiln_run(kiln, path, inputs, work, "engine" in extra, kiln_args)
        except (RuntimeError, subprocess.TimeoutExpired) as e:
            return False, str(e)
        worst, parts, ok = 0.0, [], True
        for n, r in zip(names, ref):
            if n not in got:
                return False, f"kiln wrote no output {n!r} (got {sorted(got)})"
            if got[n].shape != r.shape:
                return False, f"{n}: shape {got[n].shape} != reference {r.shape}"
            e = rel_err(got[n], r)
            worst = max(worst, e)
            ok = ok and e <= TOLERANCE
            parts.append(f"{n}{list(r.shape)} {e:.2e}")
        probs = structure_problems(name, "small", inspect_layers(kiln, path))
        if probs:
            return False, "not fused as expected: " + ", ".join(probs)
        return ok, f"max rel err {worst:.2e} ({'; '.join(parts)})"
    finally:
        if tmp is not None:
            tmp.cleanup()


# pytest entry points (one per case)
def _make_test(case):
    def test():
        ok, msg = run_case(case)
        assert ok, msg
    test.__name__ = "test_" + case[0].replace("-", "_")
    return test


for _c in CASES:
    globals()["test_" + _c[0].replace("-", "_")] = _make_test(_c)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="kiln vs onnxruntime on the generated models")
    ap.add_argument("-k", default="", help="only cases whose id contains this")
    ap.add_argument("--kiln", default=DEFAULT_KILN)
    ap.add_argument("--kiln-arg", action="append", default=[], metavar="ARG",
                    help="extra argument for kiln build/run, e.g. --kiln-arg=--opt-level=3")
    ap.add_argument("--keep", help="keep models, inputs and outputs under this directory")
    ap.add_argument("--full-structure", action="store_true",
                    help="also build the full-size models and check what the optimizer fused")
    args = ap.parse_args(argv)
    if not os.path.exists(args.kiln):
        print(f"models: kiln binary not found at {args.kiln}")
        return 2
    passed = failed = 0
    t_all = time.perf_counter()
    if args.full_structure:
        for name in ("resnet50", "mobilenetv2", "bert", "vit", "gpt2"):
            t0 = time.perf_counter()
            with tempfile.TemporaryDirectory(prefix=f"kiln-full-{name}-") as d:
                path = os.path.join(d, "model.onnx")
                m = models.build(name, size="full")
                onnx.save_model(m, path)
                layers = inspect_layers(args.kiln, path)
                probs = structure_problems(name, "full", layers)
            ok = not probs
            msg = f"{len(layers)} layers from {len(m.graph.node)} nodes" + (": " + ", ".join(probs) if probs else "")
            print(f"{'PASS' if ok else 'FAIL'} {name + '-full-structure':36s} {time.perf_counter() - t0:6.2f}s  {msg}",
                  flush=True)
            passed += ok
            failed += not ok
    for case in CASES:
        if args.k not in case[0]:
            continue
        t0 = time.perf_counter()
        try:
            ok, msg = run_case(case, args.kiln, args.keep, args.kiln_arg)
        except Exception as e:  # a generator or checker error is a failure too
            ok, msg = False, f"{type(e).__name__}: {e}"
        dt = time.perf_counter() - t0
        print(f"{'PASS' if ok else 'FAIL'} {case[0]:36s} {dt:6.2f}s  {msg}", flush=True)
        passed += ok
        failed += not ok
    print(f"total {time.perf_counter() - t_all:.1f}s")
    print(f"models: {passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
