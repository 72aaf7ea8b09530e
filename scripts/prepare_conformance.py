#!/usr/bin/env python3
"""Lays out the ONNX backend test data of the pinned onnx package as kiln conformance directories.

  OUT/node/<case>/   model.onnx + test_data_set_*  (the wheel's node tests; generated with onnx's
                     own backend-test data generator when the wheel lacks them)
  OUT/light/<case>/  light_* real-architecture models with one data set: the input onnx's own
                     runner feeds them (arange(n)/n) and the reference output shipped beside them.
Idempotent: a stamp records the onnx version the data came from.
"""
import os
import shutil
import subprocess
import sys

import numpy as np
import onnx
from onnx import numpy_helper


def node_tests(out: str, data_root: str) -> None:
    src = os.path.join(data_root, "node")
    dst = os.path.join(out, "node")
    if os.path.isdir(src) and os.listdir(src):
        if os.path.islink(dst) or os.path.exists(dst):
            if os.path.islink(dst):
                os.unlink(dst)
            else:
                shutil.rmtree(dst)
        os.symlink(src, dst)
        return
    # The wheel carries no node data: generate it from the case definitions it does carry.
    gen = os.path.join(out, "generated")
    subprocess.run([sys.executable, "-m", "onnx.backend.test.cmd_tools", "generate-data", "-o", gen],
                   check=True)
    os.symlink(os.path.join(gen, "node"), dst)


def dummy_input(vi: onnx.ValueInfoProto) -> np.ndarray:
    # Same rule as onnx.backend.test.runner.Runner.generate_dummy_data(random=False).
    shape = tuple(d.dim_value if d.HasField("dim_value") else 1 for d in vi.type.tensor_type.shape.dim)
    n = int(np.prod(shape))
    return (np.arange(n).reshape(shape) / n).astype(np.float32)


def light_models(out: str, data_root: str) -> None:
    src = os.path.join(data_root, "light")
    dst_root = os.path.join(out, "light")
    os.makedirs(dst_root, exist_ok=True)
    for f in sorted(os.listdir(src)):
        if not (f.startswith("light_") and f.endswith(".onnx")):
            continue
        name = f[len("light_"):-len(".onnx")]
        case = os.path.join(dst_root, "test_" + name)
        ds = os.path.join(case, "test_data_set_0")
        os.makedirs(ds, exist_ok=True)
        model_path = os.path.join(src, f)
        shutil.copyfile(model_path, os.path.join(case, "model.onnx"))
        model = onnx.load(model_path)
        inits = {i.name for i in model.graph.initializer}
        k = 0
        for vi in model.graph.input:
            if vi.name in inits:
                continue
            t = numpy_helper.from_array(dummy_input(vi), vi.name)
            with open(os.path.join(ds, f"input_{k}.pb"), "wb") as fh:
                fh.write(t.SerializeToString())
            k += 1
        for i, _ in enumerate(model.graph.output):
            ref = os.path.join(src, f"light_{name}_output_{i}.pb")
            shutil.copyfile(ref, os.path.join(ds, f"output_{i}.pb"))


def main() -> int:
    out = sys.argv[1] if len(sys.argv) > 1 else "conformance-data"
    stamp = os.path.join(out, ".onnx-version")
    if os.path.exists(stamp) and open(stamp).read().strip() == onnx.__version__:
        return 0
    if os.path.exists(out):
        shutil.rmtree(out)
    os.makedirs(out)
    data_root = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data")
    node_tests(out, data_root)
    light_models(out, data_root)
    with open(stamp, "w") as fh:
        fh.write(onnx.__version__ + "\n")
    print(f"conformance data: onnx {onnx.__version__} -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
