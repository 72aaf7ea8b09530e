#!/usr/bin/env python3
"""kiln's cuda backend against PyTorch on the same GPU (eager and torch.compile, fp16), in one command.

For each model (torchvision ResNet-50 and Hugging Face BERT-base, random weights from a fixed
seed, eval mode) the script exports ONNX with torch.onnx (dynamic batch), builds one kiln fp16
engine per batch (`kiln build --backend cuda --fp16`, the batch pinned by --min/--opt/--max-shapes,
the build timed), and times, in alternating rounds on the same inputs:

  kiln              `kiln bench ENGINE --cuda-graph --json` (retried without --cuda-graph when
                    kiln refuses it; the table marks such rows)
  PyTorch eager     model.half() on the GPU (the weights and activations in fp16, as kiln's
                    engine; no autocast), cudnn.benchmark on
  torch.compile     torch.compile(model.half(), mode="reduce-overhead", dynamic=False)

each PyTorch run timed with CUDA events around one synchronous call; a round gives each side's
median and the figure is the median over rounds. Accuracy, on the same inputs: rel L2 =
||y - y_fp32|| / ||y_fp32|| against PyTorch in fp32 on the GPU (TF32 off), for kiln's fp16
engine, PyTorch fp16 and a kiln fp32 engine (`--backend cuda`, no --fp16), the worst over the
model's outputs.

    python3 bench/compare_torch.py --kiln build/kiln [--models resnet50,bert]
        [--batches resnet50:1,256 bert:1,64] [--rounds 3] [--iterations 100] [--warmup 20]
        [--exporter dynamo|legacy] [--seed 0] [--work DIR] [--json FILE]

Prints one table: model, batch, the three median latencies, kiln's latency over eager's and
over torch.compile's (below 1: kiln is faster), the throughputs, the three rel L2 figures and
kiln's build time. Nothing here is a test: it measures. Needs a CUDA device (exit 2 without),
PyTorch, torchvision, transformers, onnx and onnxscript; no network (no pretrained weights).
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

MODELS = ("resnet50", "bert")
DEFAULT_BATCHES = {"resnet50": [1, 256], "bert": [1, 64]}
SEQ = 128  # BERT's sequence length
BERT_VOCAB = 30522


def progress(msg: str) -> None:
    """A progress line on a terminal (overwritten), nothing when stderr is not one."""
    if sys.stderr.isatty():
        sys.stderr.write("\r\033[K" + msg)
        sys.stderr.flush()


class Failure(Exception):
    """An error the script reports in one sentence, with its exit status."""

    def __init__(self, msg: str, code: int = 1):
        super().__init__(msg)
        self.code = code


# ----------------------------------------------------------------------------------------------
# Models and inputs


def input_names(name: str) -> list[str]:
    return ["input"] if name == "resnet50" else ["input_ids", "attention_mask"]


def output_names(name: str) -> list[str]:
    return ["logits"] if name == "resnet50" else ["last_hidden_state", "pooler_output"]


def perturb_trivial_parameters(model, seed: int) -> None:
    """Gives the parameters a fresh model initializes to constants (biases 0, norm scales 1, BN
    statistics 0 and 1) small random values, as a trained model has. With the plain init the
    exporter folds every BatchNorm into a bias-free Conv and shares one zero bias among all of
    BERT's layers, a graph no trained model gives."""
    import torch

    gen = torch.Generator().manual_seed(seed + 1)

    def normal(t, std):
        return torch.randn(t.shape, generator=gen, dtype=t.dtype) * std

    def uniform(t, lo, hi):
        return lo + (hi - lo) * torch.rand(t.shape, generator=gen, dtype=t.dtype)

    with torch.no_grad():
        for mod in model.modules():
            if isinstance(mod, torch.nn.modules.batchnorm._BatchNorm):
                mod.weight.copy_(uniform(mod.weight, 0.8, 1.2))
                mod.bias.copy_(normal(mod.bias, 0.05))
                mod.running_mean.copy_(normal(mod.running_mean, 0.05))
                mod.running_var.copy_(uniform(mod.running_var, 0.8, 1.2))
            elif isinstance(mod, torch.nn.LayerNorm):
                mod.weight.copy_(1 + normal(mod.weight, 0.05))
                mod.bias.copy_(normal(mod.bias, 0.02))
            elif isinstance(mod, (torch.nn.Linear, torch.nn.Conv2d)) and mod.bias is not None:
                mod.bias.copy_(normal(mod.bias, 0.02))


def make_model(name: str, seed: int):
    """The model in fp32 on the CPU, eval mode: random weights from `seed`."""
    import torch

    torch.manual_seed(seed)
    if name == "resnet50":
        import torchvision

        model = torchvision.models.resnet50(weights=None)
    elif name == "bert":
        import transformers

        class Bert(torch.nn.Module):
            """BertModel with positional inputs and a tuple of outputs, for export and timing."""

            def __init__(self):
                super().__init__()
                self.bert = transformers.BertModel(transformers.BertConfig(attn_implementation="sdpa"))

            def forward(self, input_ids, attention_mask):
                out = self.bert(input_ids=input_ids, attention_mask=attention_mask)
                return out.last_hidden_state, out.pooler_output

        model = Bert()
    else:
        raise Failure(f"unknown model '{name}' (known: {', '.join(MODELS)})", 2)
    perturb_trivial_parameters(model, seed)
    return model.eval()


def example_inputs(name: str, batch: int, seed: int) -> dict[str, np.ndarray]:
    """Inputs by name, the same for every system. BERT: random token ids, and an attention mask
    that pads the end of most rows (row 0 is full)."""
    rng = np.random.default_rng(seed * 1000 + batch)
    if name == "resnet50":
        return {"input": rng.standard_normal((batch, 3, 224, 224), dtype=np.float32)}
    ids = rng.integers(0, BERT_VOCAB, (batch, SEQ), dtype=np.int64)
    mask = np.ones((batch, SEQ), dtype=np.int64)
    for b in range(batch):
        pad = (b * 13) % 48
        if pad:
            mask[b, SEQ - pad:] = 0
    return {"input_ids": ids, "attention_mask": mask}


def export_onnx(name: str, model, path: str, exporter: str) -> None:
    """Writes the fp32 model as ONNX with a dynamic batch dim named `batch` (traced at batch 2:
    torch.export would specialize a batch of 1)."""
    import torch

    feeds = example_inputs(name, 2, 0)
    args = tuple(torch.from_numpy(feeds[n]) for n in input_names(name))
    captured = io.StringIO()
    try:
        # The exporters print their steps and the optimizer's complaints: kept for an error.
        with contextlib.redirect_stdout(captured), contextlib.redirect_stderr(captured), warnings.catch_warnings(), \
                torch.no_grad():
            warnings.simplefilter("ignore")
            if exporter == "dynamo":
                batch = torch.export.Dim("batch", min=1, max=4096)
                torch.onnx.export(model, args, path, dynamo=True, input_names=input_names(name),
                                  output_names=output_names(name), dynamic_shapes=tuple({0: batch} for _ in args),
                                  external_data=False)
            else:
                torch.onnx.export(model, args, path, dynamo=False, input_names=input_names(name),
                                  output_names=output_names(name), opset_version=17,
                                  dynamic_axes={n: {0: "batch"} for n in input_names(name) + output_names(name)})
    except Exception as e:  # the exporters raise many kinds
        log = captured.getvalue().strip()[-1500:]
        other = "legacy" if exporter == "dynamo" else "dynamo"
        raise Failure(f"exporting {name} with the {exporter} exporter failed: {type(e).__name__}: {e}"
                      + (f"\n{log}" if log else "") + f"\n(try --exporter {other})") from e
    if not os.path.exists(path):
        raise Failure(f"exporting {name} with the {exporter} exporter wrote no file at {path}")


# ----------------------------------------------------------------------------------------------
# kiln


def run_kiln(cmd: list[str]) -> subprocess.CompletedProcess:
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise Failure(f"{' '.join(cmd[:3])} ... failed (exit {r.returncode}): {(r.stderr or r.stdout).strip()[-1500:]}")
    return r


def shape_spec(feeds: dict[str, np.ndarray]) -> str:
    return ",".join(f"{n}:{'x'.join(str(d) for d in v.shape)}" for n, v in feeds.items())


def kiln_build(kiln: str, onnx_path: str, engine: str, backend: str, fp16: bool, feeds: dict[str, np.ndarray]) -> float:
    """Builds an engine for exactly the feeds' shapes; returns the build's wall time in seconds."""
    spec = shape_spec(feeds)
    cmd = [kiln, "build", onnx_path, "--backend", backend, "--min-shapes", spec, "--opt-shapes", spec,
           "--max-shapes", spec, "-o", engine] + (["--fp16"] if fp16 else [])
    # The fp32 engine is the float32 accuracy check: exact products (TF32, kiln's default for
    # float32 on the GPU, is a precision choice like --fp16).
    if not fp16 and backend == "cuda":
        cmd.append("--no-tf32")
    t0 = time.perf_counter()
    run_kiln(cmd)
    return time.perf_counter() - t0


def engine_layers(kiln: str, engine: str) -> dict:
    """What `kiln inspect` says of an engine: its layer count, the layers that run on another
    backend than the engine's (host fallbacks, by op) and the copies between memories."""
    info = json.loads(run_kiln([kiln, "inspect", engine, "--json"]).stdout)
    host: dict[str, int] = {}
    copies = 0
    for layer in info["layers"]:
        if layer["op"] in ("kiln.CopyToDevice", "kiln.CopyToHost"):
            copies += 1
        elif layer["backend"] != info["backend"]:
            host[layer["op"]] = host.get(layer["op"], 0) + 1
    return dict(layers=len(info["layers"]), onnx_nodes=info.get("onnx_nodes"), other_backend=host, copies=copies)


def input_args(files: dict[str, str]) -> list[str]:
    out = []
    for n, f in files.items():
        out += ["--input", f"{n}={f}"]
    return out


def kiln_bench(kiln: str, engine: str, files: dict[str, str], iterations: int, warmup: int, json_path: str,
               cuda_graph: bool) -> tuple[float, str, dict]:
    """One round of `kiln bench`: (median latency in ms, why --cuda-graph was refused or "", its
    JSON). A refused --cuda-graph is retried without it. kiln's default I/O for an engine with
    device layers is `device`: inputs uploaded once, outputs left on the device, as PyTorch's
    tensors are here."""
    cmd = [kiln, "bench", engine, *input_args(files), "--iterations", str(iterations), "--warmup", str(warmup),
           "--json", json_path]
    refused = ""
    done = False
    if cuda_graph:
        r = subprocess.run(cmd + ["--cuda-graph"], capture_output=True, text=True)
        done = r.returncode == 0
        if not done:
            lines = (r.stderr or r.stdout).strip().splitlines()
            refused = "kiln bench --cuda-graph refused: " + (lines[-1][:300] if lines else f"exit {r.returncode}")
    if not done:
        run_kiln(cmd)
    with open(json_path) as f:
        j = json.load(f)
    return float(j["latency_ms"]["median"]), refused, j


def npy_name(output: str) -> str:
    """The file `kiln run --output-dir` writes an output to (tools/kiln/cmd_run.cpp)."""
    return "".join(c if c.isalnum() or c in "_-." else "_" for c in output) + ".npy"


def kiln_outputs(kiln: str, engine: str, files: dict[str, str], names: list[str], outdir: str) -> dict[str, np.ndarray]:
    run_kiln([kiln, "run", engine, *input_args(files), "--output-dir", outdir])
    return {n: np.load(os.path.join(outdir, npy_name(n))) for n in names}


def rel_l2(got: dict[str, np.ndarray], ref: dict[str, np.ndarray]) -> float:
    """The worst ||got - ref|| / ||ref|| over the outputs (inf for a shape mismatch, nan if any
    output holds a NaN)."""
    worst = 0.0
    for n, r in ref.items():
        g = np.asarray(got[n], dtype=np.float64)
        r = np.asarray(r, dtype=np.float64)
        if g.shape != r.shape:
            return float("inf")
        if np.isnan(g).any():
            return float("nan")
        worst = max(worst, float(np.linalg.norm(g - r) / max(np.linalg.norm(r), 1e-30)))
    return worst


# ----------------------------------------------------------------------------------------------
# PyTorch


def torch_args(name: str, feeds: dict[str, np.ndarray], device: str, half: bool) -> tuple:
    import torch

    out = []
    for n in input_names(name):
        t = torch.from_numpy(feeds[n]).to(device)
        out.append(t.half() if half and t.is_floating_point() else t)
    return tuple(out)


def torch_outputs(name: str, model, args: tuple) -> dict[str, np.ndarray]:
    import torch

    with torch.inference_mode():
        y = model(*args)
    if not isinstance(y, (tuple, list)):
        y = (y,)
    return {n: t.float().cpu().numpy() for n, t in zip(output_names(name), y)}


def time_torch(fn, args: tuple, iterations: int, warmup: int, device: str) -> float:
    """Median latency in ms of one synchronous call: CUDA events around it on a GPU (the GPU
    is idle when the start event is recorded, so launch overhead counts, as in kiln bench),
    the wall clock on the CPU."""
    import torch

    with torch.inference_mode():
        for _ in range(warmup):
            fn(*args)
        times = []
        if device == "cuda":
            torch.cuda.synchronize()
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            for _ in range(iterations):
                start.record()
                fn(*args)
                end.record()
                end.synchronize()
                times.append(start.elapsed_time(end))
        else:
            for _ in range(iterations):
                t0 = time.perf_counter()
                fn(*args)
                times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


# ----------------------------------------------------------------------------------------------


def parse_batches(items: list[str] | None, models: list[str]) -> dict[str, list[int]]:
    out = {m: list(DEFAULT_BATCHES[m]) for m in models}
    for item in items or []:
        m, sep, bs = item.partition(":")
        if not sep or m not in MODELS:
            raise Failure(f"--batches: '{item}' is not MODEL:B1,B2 with MODEL one of {', '.join(MODELS)}", 2)
        try:
            out[m] = [int(b) for b in bs.split(",")]
        except ValueError:
            raise Failure(f"--batches: '{item}' has a batch that is not an integer", 2) from None
        if not out[m] or min(out[m]) < 1:
            raise Failure(f"--batches: '{item}' needs batches of at least 1", 2)
    return out


def fmt(x, spec: str) -> str:
    """x formatted, or "-" as wide for a figure not measured."""
    return format(x, spec) if x is not None else format("-", ">" + spec.split(".")[0])


def print_table(rows: list[dict], header: str) -> None:
    print(header)
    print(f"{'model':9s} {'batch':>5s} {'kiln ms':>8s} {'eager ms':>9s} {'compile ms':>10s} {'k/eager':>7s} {'k/compile':>9s} "
          f"{'kiln it/s':>10s} {'eager it/s':>10s} {'compile it/s':>12s} {'L2 kiln16':>9s} {'L2 torch16':>10s} "
          f"{'L2 kiln32':>9s} {'build s':>7s}")
    notes = []
    for r in rows:
        mark = ""
        for n in r["notes"]:
            if n not in notes:
                notes.append(n)
            mark += f"[{notes.index(n) + 1}]"
        ratio_c = r["kiln_ms"] / r["compile_ms"] if r["compile_ms"] else None
        print(f"{r['model']:9s} {r['batch']:5d} {r['kiln_ms']:8.3f} {r['eager_ms']:9.3f} {fmt(r['compile_ms'], '10.3f')} "
              f"{r['kiln_ms'] / r['eager_ms']:7.2f} {fmt(ratio_c, '9.2f')} "
              f"{r['kiln_items_per_s']:10.1f} {r['eager_items_per_s']:10.1f} {fmt(r['compile_items_per_s'], '12.1f')} "
              f"{r['rel_l2_kiln']:9.2e} {fmt(r['rel_l2_torch'], '10.2e')} {fmt(r['rel_l2_kiln_fp32'], '9.2e')} "
              f"{r['kiln_build_s']:7.1f} {mark}".rstrip())
    for i, n in enumerate(notes):
        print(f"[{i + 1}] {n}")
    for r in rows:
        lay = r["kiln_layers"]
        other = ", ".join(f"{op} {n}" for op, n in sorted(lay["other_backend"].items(), key=lambda kv: -kv[1]))
        print(f"kiln engine {r['model']} batch {r['batch']}: {lay['layers']} layers from {lay['onnx_nodes']} ONNX nodes, "
              f"{lay['copies']} memory copies; on another backend: {other or 'none'}")


def compare_model(name: str, batches: list[int], args, work: str, device: str) -> list[dict]:
    import torch

    on_gpu = device == "cuda"
    mdir = os.path.join(work, name)
    os.makedirs(mdir, exist_ok=True)
    model = make_model(name, args.seed)
    onnx_path = os.path.join(mdir, f"{name}.{args.exporter}.seed{args.seed}.onnx")
    if not os.path.exists(onnx_path):
        progress(f"{name}: exporting ONNX ({args.exporter})")
        export_onnx(name, model, onnx_path, args.exporter)
    ref_model = model.to(device)
    # fp16 on the GPU; the CPU check runs PyTorch in fp32 only, and kiln in fp32.
    half_model = copy.deepcopy(model).half().to(device) if on_gpu else None
    compiled = torch.compile(half_model, mode="reduce-overhead", dynamic=False) if on_gpu else None
    fp16 = on_gpu
    use_cuda_graph = on_gpu
    rows = []
    for batch in batches:
        notes = []
        feeds = example_inputs(name, batch, args.seed)
        files = {}
        for n, v in feeds.items():
            files[n] = os.path.join(mdir, f"in_{n}_b{batch}.npy")
            np.save(files[n], v)
        progress(f"{name} batch {batch}: PyTorch fp32 reference")
        ref = torch_outputs(name, ref_model, torch_args(name, feeds, device, False))
        torch16 = None
        if on_gpu:
            torch16 = rel_l2(torch_outputs(name, half_model, torch_args(name, feeds, device, True)), ref)
        progress(f"{name} batch {batch}: building the kiln engine")
        engine = os.path.join(mdir, f"{name}.b{batch}.{args.kiln_backend}.{'fp16' if fp16 else 'fp32'}.kiln")
        build_s = kiln_build(args.kiln, onnx_path, engine, args.kiln_backend, fp16, feeds)
        layers = engine_layers(args.kiln, engine)
        kiln_rel = rel_l2(kiln_outputs(args.kiln, engine, files, output_names(name), os.path.join(mdir, "out")), ref)
        kiln32_rel = None
        if fp16:
            progress(f"{name} batch {batch}: building the kiln fp32 engine")
            engine32 = os.path.join(mdir, f"{name}.b{batch}.{args.kiln_backend}.fp32.kiln")
            try:
                kiln_build(args.kiln, onnx_path, engine32, args.kiln_backend, False, feeds)
                kiln32_rel = rel_l2(kiln_outputs(args.kiln, engine32, files, output_names(name), os.path.join(mdir, "out32")), ref)
            except Failure as e:
                notes.append(f"kiln fp32 engine: {e}")
        timed_args = torch_args(name, feeds, device, on_gpu)
        timed_model = half_model if on_gpu else ref_model
        compile_warmup = max(args.warmup, 5)  # reduce-overhead records its CUDA graph after a few calls
        compile_s = None
        use_compiled = compiled is not None
        if use_compiled:
            progress(f"{name} batch {batch}: torch.compile")
            t0 = time.perf_counter()
            try:
                time_torch(compiled, timed_args, 1, compile_warmup, device)
                compile_s = time.perf_counter() - t0
            except Exception as e:  # inductor and its compiler raise many kinds
                notes.append(f"torch.compile failed: {type(e).__name__}: {str(e).strip()[:300]}")
                use_compiled = False
        kiln_rounds, eager_rounds, compile_rounds, kiln_io = [], [], [], None
        for r in range(args.rounds):
            progress(f"{name} batch {batch}: round {r + 1}/{args.rounds}, kiln")
            ms, refused, bench = kiln_bench(args.kiln, engine, files, args.iterations, args.warmup,
                                            os.path.join(mdir, "bench.json"), use_cuda_graph)
            if refused:
                notes.append(refused + "; timed without CUDA graphs")
                use_cuda_graph = False
            graph = bench.get("cuda_graph_runs") or {}
            if use_cuda_graph and (graph.get("note") or not graph.get("replayed", 1)):
                note = f"kiln --cuda-graph: runs not replayed from a CUDA graph: {graph.get('note') or 'replayed 0'}"
                if note not in notes:
                    notes.append(note)
            if bench.get("io", "device") != "device" and on_gpu:
                note = f"kiln bench io: {bench.get('io')} (inputs and outputs copied every run)"
                if note not in notes:
                    notes.append(note)
            kiln_io = bench.get("io")
            kiln_rounds.append(ms)
            progress(f"{name} batch {batch}: round {r + 1}/{args.rounds}, PyTorch eager")
            eager_rounds.append(time_torch(timed_model, timed_args, args.iterations, args.warmup, device))
            if use_compiled:
                progress(f"{name} batch {batch}: round {r + 1}/{args.rounds}, torch.compile")
                compile_rounds.append(time_torch(compiled, timed_args, args.iterations, compile_warmup, device))
        if on_gpu and not use_cuda_graph and not any("--cuda-graph" in n for n in notes):
            notes.append("kiln bench timed without CUDA graphs (refused earlier for this model)")
        km, em = statistics.median(kiln_rounds), statistics.median(eager_rounds)
        cm = statistics.median(compile_rounds) if compile_rounds else None
        rows.append(dict(model=name, batch=batch, kiln_ms=km, eager_ms=em, compile_ms=cm,
                         kiln_items_per_s=batch * 1e3 / km, eager_items_per_s=batch * 1e3 / em,
                         compile_items_per_s=batch * 1e3 / cm if cm else None,
                         rel_l2_kiln=kiln_rel, rel_l2_torch=torch16, rel_l2_kiln_fp32=kiln32_rel,
                         kiln_build_s=build_s, kiln_layers=layers, torch_compile_s=compile_s, kiln_cuda_graph=on_gpu and use_cuda_graph, kiln_io=kiln_io,
                         notes=notes, kiln_rounds_ms=kiln_rounds, eager_rounds_ms=eager_rounds,
                         compile_rounds_ms=compile_rounds, kiln_backend=args.kiln_backend,
                         kiln_precision="fp16" if fp16 else "fp32", exporter=args.exporter,
                         iterations=args.iterations, warmup=args.warmup, rounds=args.rounds))
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kiln", default=os.path.join(ROOT, "build", "kiln"), help="the kiln binary (default build/kiln)")
    ap.add_argument("--models", default=",".join(MODELS), help="comma-separated: resnet50, bert")
    ap.add_argument("--batches", nargs="+", metavar="MODEL:B1,B2",
                    help="batches per model (default resnet50:1,256 bert:1,64): the first for latency, the last for throughput")
    ap.add_argument("--rounds", type=int, default=3, help="alternating kiln/eager/compile rounds")
    ap.add_argument("--iterations", type=int, default=100, help="timed runs per round and system")
    ap.add_argument("--warmup", type=int, default=20, help="untimed runs before each round's timed ones")
    ap.add_argument("--exporter", choices=["dynamo", "legacy"], default="dynamo",
                    help="torch.onnx.export(dynamo=True), PyTorch's default, or the TorchScript exporter (opset 17)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the random weights and inputs")
    ap.add_argument("--work", help="keep exports, engines and inputs here (default: a temporary directory); "
                                   "an export already there is reused")
    ap.add_argument("--json", help="write the rows as JSON")
    # For checking the script on a machine without a GPU: kiln's cpu backend in fp32 against
    # PyTorch fp32 on the CPU, no torch.compile. Not a benchmark.
    ap.add_argument("--kiln-backend", default="cuda", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    try:
        models = [m.strip() for m in args.models.split(",") if m.strip()]
        for m in models:
            if m not in MODELS:
                raise Failure(f"--models: unknown model '{m}' (known: {', '.join(MODELS)})", 2)
        batches = parse_batches(args.batches, models)
        if min(args.rounds, args.iterations) < 1 or args.warmup < 0:
            raise Failure("--rounds and --iterations must be at least 1, --warmup at least 0", 2)
        if not (os.path.isfile(args.kiln) and os.access(args.kiln, os.X_OK)):
            raise Failure(f"kiln not found at {args.kiln} (build it, or pass --kiln PATH)", 2)
        args.kiln = os.path.abspath(args.kiln)
        try:
            import torch
        except ImportError as e:
            raise Failure(f"PyTorch is needed: {e}", 2) from e
        device = "cuda" if args.kiln_backend == "cuda" else "cpu"
        if device == "cuda":
            if not torch.cuda.is_available():
                raise Failure(f"no CUDA device: torch.cuda.is_available() is False (torch {torch.__version__}, "
                              f"built for CUDA {torch.version.cuda})", 2)
            torch.backends.cudnn.benchmark = True
            # The fp32 reference in real fp32: no TF32 in its products and convolutions.
            torch.backends.cuda.matmul.allow_tf32 = False
            torch.backends.cudnn.allow_tf32 = False
        tmp = None if args.work else tempfile.TemporaryDirectory(prefix="kiln-torch-")
        work = os.path.abspath(args.work or tmp.name)
        os.makedirs(work, exist_ok=True)
        rows, failed = [], []
        for m in models:
            # One model's failure (an export, a build) leaves the others' figures standing.
            try:
                rows += compare_model(m, batches[m], args, work, device)
            except Failure as e:
                progress("")
                print(f"compare_torch: {m}: {e}", file=sys.stderr)
                failed.append(m)
        progress("")
        gpu = torch.cuda.get_device_name(0) if device == "cuda" else "CPU"
        if device == "cuda":
            header = (f"kiln --backend cuda --fp16 vs PyTorch {torch.__version__} fp16 (model.half()) eager and "
                      f"torch.compile(mode=reduce-overhead) on {gpu}; export: torch.onnx {args.exporter}; "
                      f"{args.rounds} alternating rounds of {args.iterations} runs (+{args.warmup} warmup); "
                      f"latency ratios below 1: kiln faster; rel L2 against PyTorch fp32")
        else:
            header = (f"CHECK RUN, not a benchmark: kiln --backend {args.kiln_backend} fp32 vs PyTorch {torch.__version__} "
                      f"fp32 eager on the CPU; export: torch.onnx {args.exporter}")
        if rows:
            print_table(rows, header)
        if args.json:
            with open(args.json, "w") as f:
                json.dump(dict(header=header, torch=torch.__version__, device=gpu, rows=rows), f, indent=2)
        if tmp is not None:
            tmp.cleanup()
        return 1 if failed else 0
    except Failure as e:
        progress("")
        print(f"compare_torch: {e}", file=sys.stderr)
        return e.code


if __name__ == "__main__":
    sys.exit(main())
