#!/usr/bin/env python3
"""kiln against ONNX Runtime's CPU provider, side by side, in one command.

For each model (generated full size by models/generate.py) and batch: ONNX Runtime
(CPUExecutionProvider, graph optimizations on, the same thread count) and ``kiln bench``
(an engine built once for --backend) are timed in alternating rounds on the same .onnx file and
the same inputs; each round yields each side's median latency and the figure is the median over
rounds. Outputs are compared once:
max |kiln - ort| / max |ort| per output.

    .venv/bin/python bench/compare_onnxruntime.py [--kiln build/kiln] [--backend cpu] [--precision bf16]
        [--models resnet50,mobilenetv2,bert,vit] [--batches 1,8] [--threads 2]
        [--iterations 20] [--warmup 5] [--rounds 2] [--seq 128] [--work DIR] [--json FILE]

Prints one table: model, batch, ORT median, kiln median, ratio (kiln / ORT: below 1 is kiln
faster), both throughputs, and the output difference. Nothing here is a test: it measures.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import onnx  # noqa: E402
import onnxruntime as ort  # noqa: E402

import models  # noqa: E402


def progress(msg: str) -> None:
    """A progress line on a terminal (overwritten), nothing when piped."""
    if sys.stderr.isatty():
        sys.stderr.write("\r\033[K" + msg)
        sys.stderr.flush()


def ort_session(path: str, threads: int) -> ort.InferenceSession:
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def time_ort(sess: ort.InferenceSession, feeds: dict, warmup: int, iterations: int) -> list[float]:
    for _ in range(warmup):
        sess.run(None, feeds)
    out = []
    for _ in range(iterations):
        t0 = time.perf_counter()
        sess.run(None, feeds)
        out.append((time.perf_counter() - t0) * 1e3)
    return out


def kiln(cmd: list[str]) -> str:
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:3])} ... failed: {(r.stderr or r.stdout).strip()[-1500:]}")
    return r.stdout


def time_kiln(exe: str, engine: str, input_args: list[str], warmup: int, iterations: int, threads: int,
              work: str) -> float:
    """One round of kiln bench: its median latency in ms."""
    out = os.path.join(work, "bench.json")
    kiln([exe, "bench", engine, *input_args, "--warmup", str(warmup), "--iterations", str(iterations),
          "--threads", str(threads), "--json", out])
    with open(out) as f:
        return json.load(f)["latency_ms"]["median"]


def max_rel_diff(exe: str, engine: str, input_args: list[str], ref: dict, work: str) -> float:
    outdir = os.path.join(work, "kiln_out")
    kiln([exe, "run", engine, *input_args, "--output-dir", outdir])
    worst = 0.0
    for name, r in ref.items():
        got = np.load(os.path.join(outdir, name + ".npy")).astype(np.float64)
        r = r.astype(np.float64)
        if got.shape != r.shape:
            return float("inf")
        worst = max(worst, float(np.max(np.abs(got - r))) / max(float(np.max(np.abs(r))), 1e-30))
    return worst


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kiln", default=os.path.join(ROOT, "build", "kiln"))
    ap.add_argument("--backend", default="cpu")
    ap.add_argument("--precision", default="fp32", choices=["fp32", "bf16"],
                    help="kiln's build precision (ONNX Runtime runs the model's fp32 either way)")
    ap.add_argument("--models", default="resnet50,mobilenetv2,bert,vit")
    ap.add_argument("--batches", default="1,8", help="batch 1 for latency, a larger one for throughput")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--iterations", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=2, help="alternating ORT/kiln rounds")
    ap.add_argument("--seq", type=int, default=128, help="sequence length for BERT")
    ap.add_argument("--work", help="keep models and engines here (default: a temporary directory)")
    ap.add_argument("--json", help="write the rows as JSON")
    args = ap.parse_args(argv)
    if not os.path.exists(args.kiln):
        print(f"compare: kiln not found at {args.kiln}", file=sys.stderr)
        return 2
    tmp = None if args.work else tempfile.TemporaryDirectory(prefix="kiln-compare-")
    work = args.work or tmp.name
    os.makedirs(work, exist_ok=True)
    rows = []
    for name in args.models.split(","):
        name = models.canonical(name)
        mdir = os.path.join(work, name)
        os.makedirs(mdir, exist_ok=True)
        path = os.path.join(mdir, "model.onnx")
        if not os.path.exists(path):
            progress(f"{name}: generating")
            onnx.save_model(models.build(name, size="full"), path)
        engine = os.path.join(mdir, f"model.{args.backend}.{args.precision}.kiln")
        progress(f"{name}: building the kiln engine")
        t0 = time.perf_counter()
        kiln([args.kiln, "build", path, "-o", engine, "--backend", args.backend]
             + (["--" + args.precision] if args.precision != "fp32" else []))
        build_s = time.perf_counter() - t0
        sess = ort_session(path, args.threads)
        for batch in (int(b) for b in args.batches.split(",")):
            feeds = models.example_inputs(name, "full", batch=batch, seq=args.seq)
            input_args = []
            for k, v in feeds.items():
                f = os.path.join(mdir, f"in_{k}_b{batch}.npy")
                np.save(f, v)
                input_args += ["--input", f"{k}={f}"]
            ref = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, feeds)))
            # Each round gives each side's median; the figure is the median over rounds.
            ort_rounds, kiln_rounds = [], []
            for r in range(args.rounds):
                progress(f"{name} batch {batch}: round {r + 1}/{args.rounds}, onnxruntime")
                ort_rounds.append(statistics.median(time_ort(sess, feeds, args.warmup, args.iterations)))
                progress(f"{name} batch {batch}: round {r + 1}/{args.rounds}, kiln")
                kiln_rounds.append(time_kiln(args.kiln, engine, input_args, args.warmup, args.iterations,
                                             args.threads, mdir))
            diff = max_rel_diff(args.kiln, engine, input_args, ref, mdir)
            om, km = statistics.median(ort_rounds), statistics.median(kiln_rounds)
            rows.append(dict(model=name, batch=batch, ort_median_ms=om, kiln_median_ms=km, ratio=km / om,
                             ort_items_per_s=batch * 1e3 / om, kiln_items_per_s=batch * 1e3 / km,
                             max_rel_diff=diff, kiln_build_s=build_s, threads=args.threads,
                             backend=args.backend, precision=args.precision))
    progress("")
    print(f"onnxruntime {ort.__version__} (CPUExecutionProvider, ORT_ENABLE_ALL) vs kiln --backend {args.backend} {args.precision}; "
          f"threads {args.threads}; {args.rounds} alternating rounds of {args.iterations} runs (+{args.warmup} warmup)")
    hdr = f"{'model':12s} {'batch':>5s} {'ORT ms':>9s} {'kiln ms':>9s} {'ratio':>6s} {'ORT items/s':>12s} {'kiln items/s':>13s} {'max rel diff':>13s}"
    print(hdr)
    for r in rows:
        print(f"{r['model']:12s} {r['batch']:5d} {r['ort_median_ms']:9.2f} {r['kiln_median_ms']:9.2f} {r['ratio']:6.2f} "
              f"{r['ort_items_per_s']:12.1f} {r['kiln_items_per_s']:13.1f} {r['max_rel_diff']:13.2e}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
