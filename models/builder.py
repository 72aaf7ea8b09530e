"""Shared graph-building helper for the kiln model generator.

Only ``onnx.helper`` / ``onnx.numpy_helper`` and numpy are used.  The helper keeps
node/initializer lists, hands out unique names, draws seeded weights and knows the
exporter idioms (decomposed or fused LayerNorm, Erf or Tanh GELU, dynamic reshapes
through Shape/Gather/Unsqueeze/Concat, the attention subgraph with a head split).
"""

from __future__ import annotations

import math
from typing import Iterable, Sequence

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

F32 = TensorProto.FLOAT
I64 = TensorProto.INT64

# Query/key weights are drawn this much wider than 1/sqrt(fan_in) so that attention
# scores have a standard deviation of a few units: softmax rows are peaked, not flat.
QK_GAIN = 1.6


class GraphBuilder:
    """Accumulates an ONNX graph; every ``op`` call returns output name(s)."""

    def __init__(self, name: str, seed: int = 0, opset: int = 17):
        if opset < 13:
            raise ValueError("the generator emits opset 13 or newer (Unsqueeze axes as an input)")
        self.name = name
        self.opset = opset
        self.rng = np.random.default_rng(seed)
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self.inputs: list[onnx.ValueInfoProto] = []
        self.outputs: list[onnx.ValueInfoProto] = []
        self._used: set[str] = set()
        self._counters: dict[str, int] = {}
        self._const_cache: dict[tuple, str] = {}
        self.scope: list[str] = []

    # ------------------------------------------------------------------ names
    def _prefix(self) -> str:
        return "/".join(self.scope)

    def fresh(self, base: str) -> str:
        full = f"{self._prefix()}/{base}" if self.scope else base
        if full not in self._used:
            self._used.add(full)
            return full
        n = self._counters.get(full, 0)
        while True:
            n += 1
            cand = f"{full}_{n}"
            if cand not in self._used:
                self._counters[full] = n
                self._used.add(cand)
                return cand

    class _Scope:
        def __init__(self, b: "GraphBuilder", name: str):
            self.b, self.name = b, name

        def __enter__(self):
            self.b.scope.append(self.name)
            return self

        def __exit__(self, *exc):
            self.b.scope.pop()

    def named(self, name: str) -> "GraphBuilder._Scope":
        return GraphBuilder._Scope(self, name)

    # ------------------------------------------------------------- graph I/O
    def add_input(self, name: str, elem_type: int, shape: Sequence) -> str:
        self._used.add(name)
        self.inputs.append(helper.make_tensor_value_info(name, elem_type, list(shape)))
        return name

    def add_output(self, name: str, elem_type: int, shape: Sequence | None) -> str:
        self.outputs.append(helper.make_tensor_value_info(name, elem_type, shape))
        return name

    # --------------------------------------------------------- initializers
    def init(self, arr: np.ndarray, name: str) -> str:
        name = self.fresh(name)
        self.initializers.append(numpy_helper.from_array(np.asarray(arr), name))
        return name

    def const(self, value, dtype=np.float32, name: str | None = None) -> str:
        """A small constant initializer, shared between uses when equal."""
        arr = np.asarray(value, dtype=dtype)
        key = (arr.dtype.str, arr.shape, arr.tobytes())
        if name is None and key in self._const_cache:
            return self._const_cache[key]
        out = self.init(arr, name or "const")
        if name is None:
            self._const_cache[key] = out
        return out

    def const_node(self, value, dtype=np.float32, name: str = "Constant") -> str:
        """A constant emitted as a Constant node (the other way exporters write them)."""
        arr = np.asarray(value, dtype=dtype)
        out = self.fresh(name + "_output_0")
        self.nodes.append(helper.make_node(
            "Constant", [], [out], name=self.fresh(name),
            value=numpy_helper.from_array(arr, out + "_value")))
        return out

    def i64(self, value) -> str:
        return self.const(value, np.int64)

    def normal(self, shape, std: float, name: str) -> str:
        w = self.rng.standard_normal(size=tuple(shape), dtype=np.float32) * np.float32(std)
        return self.init(w, name)

    def uniform(self, shape, lo: float, hi: float, name: str) -> str:
        w = self.rng.uniform(lo, hi, size=tuple(shape)).astype(np.float32)
        return self.init(w, name)

    # ------------------------------------------------------------------ nodes
    def op(self, op_type: str, inputs: Iterable[str], n_out: int = 1, name: str | None = None,
           outputs: Sequence[str] | None = None, **attrs):
        node_name = self.fresh(name or op_type)
        if outputs is not None:
            outs = list(outputs)
            n_out = len(outs)
        else:
            outs = [f"{node_name}_output_{i}" for i in range(n_out)]
        for o in outs:
            self._used.add(o)
        self.nodes.append(helper.make_node(op_type, list(inputs), outs, name=node_name, **attrs))
        return outs[0] if n_out == 1 else outs

    def unsqueeze(self, x: str, axes: Sequence[int]) -> str:
        return self.op("Unsqueeze", [x, self.i64(list(axes))])

    def reduce_mean(self, x: str, axes: Sequence[int], keepdims: int = 1) -> str:
        if self.opset >= 18:
            return self.op("ReduceMean", [x, self.i64(list(axes))], keepdims=keepdims)
        return self.op("ReduceMean", [x], axes=list(axes), keepdims=keepdims)

    # ------------------------------------------------------ dynamic shapes
    def dims(self, x: str, idxs: Sequence[int]) -> list[str]:
        """Shape(x) -> Gather(i) -> Unsqueeze(0) for each i: 1-D int64 tensors."""
        shape = self.op("Shape", [x])
        outs = []
        for i in idxs:
            g = self.op("Gather", [shape, self.i64(i)], axis=0)
            outs.append(self.unsqueeze(g, [0]))
        return outs

    def dim_scalar(self, x: str, i: int) -> str:
        shape = self.op("Shape", [x])
        return self.op("Gather", [shape, self.i64(i)], axis=0)

    def concat_shape(self, parts: Sequence) -> str:
        """Concat 1-D int64 pieces; ints become constants."""
        names = [p if isinstance(p, str) else self.i64([int(p)]) for p in parts]
        return self.op("Concat", names, axis=0)

    # -------------------------------------------------------------- layers
    def linear(self, x: str, d_in: int, d_out: int, name: str, bias: bool = True,
               std: float | None = None, bias_std: float = 0.02,
               col_gain: np.ndarray | None = None) -> str:
        """x @ W + b as MatMul + Add (what torch exports for nn.Linear on 3-D inputs).
        ``col_gain`` multiplies the weight's output columns (e.g. q/k part of c_attn)."""
        std = (1.0 / math.sqrt(d_in)) if std is None else std
        with self.named(name):
            wv = self.rng.standard_normal(size=(d_in, d_out), dtype=np.float32)
            wv *= np.float32(std)
            if col_gain is not None:
                wv *= col_gain.astype(np.float32)[None, :]
            w = self.init(wv, "weight")
            y = self.op("MatMul", [x, w])
            if bias:
                b = self.normal([d_out], bias_std, "bias")
                y = self.op("Add", [y, b])
        return y

    def gemm(self, x: str, d_in: int, d_out: int, name: str, std: float | None = None,
             out_name: str | None = None) -> str:
        """nn.Linear on 2-D input: Gemm with transB=1, weight stored [out, in]."""
        std = (1.0 / math.sqrt(d_in)) if std is None else std
        with self.named(name):
            w = self.normal([d_out, d_in], std, "weight")
            b = self.normal([d_out], 0.02, "bias")
            return self.op("Gemm", [x, w, b], alpha=1.0, beta=1.0, transB=1,
                           outputs=[out_name] if out_name else None)

    def layernorm(self, x: str, hidden: int, mode: str, name: str, eps: float = 1e-5) -> str:
        with self.named(name):
            gamma = self.uniform([hidden], 0.8, 1.2, "weight")
            beta = self.normal([hidden], 0.05, "bias")
            if mode == "fused":
                if self.opset < 17:
                    raise ValueError("LayerNormalization needs opset 17 or newer")
                return self.op("LayerNormalization", [x, gamma, beta], axis=-1, epsilon=eps)
            if mode != "decomposed":
                raise ValueError(f"unknown layernorm mode {mode!r}")
            mean = self.reduce_mean(x, [-1])
            d = self.op("Sub", [x, mean])
            p = self.op("Pow", [d, self.const(2.0)])
            var = self.reduce_mean(p, [-1])
            ve = self.op("Add", [var, self.const(eps)])
            s = self.op("Sqrt", [ve])
            n = self.op("Div", [d, s])
            y = self.op("Mul", [n, gamma])
            return self.op("Add", [y, beta])

    def gelu(self, x: str, mode: str) -> str:
        if mode == "erf":  # x * 0.5 * (1 + erf(x / sqrt(2))), as torch exports nn.GELU()
            d = self.op("Div", [x, self.const(1.4142135381698608)])
            e = self.op("Erf", [d])
            a = self.op("Add", [e, self.const(1.0)])
            m = self.op("Mul", [x, a])
            return self.op("Mul", [m, self.const(0.5)])
        if mode == "tanh":  # GPT-2 NewGELU: 0.5x(1 + tanh(sqrt(2/pi)(x + 0.044715 x^3)))
            p = self.op("Pow", [x, self.const(3.0)])
            m = self.op("Mul", [p, self.const(0.044715)])
            a = self.op("Add", [x, m])
            s = self.op("Mul", [a, self.const(math.sqrt(2.0 / math.pi))])
            t = self.op("Tanh", [s])
            o = self.op("Add", [t, self.const(1.0)])
            h = self.op("Mul", [x, self.const(0.5)])
            return self.op("Mul", [h, o])
        raise ValueError(f"unknown gelu mode {mode!r}")

    def split_heads(self, x: str, heads: int, head_dim: int, perm: Sequence[int]) -> str:
        """[b, s, h*d] -> Reshape [b, s, h, d] (target from Shape/Gather/Unsqueeze/Concat)
        -> Transpose(perm)."""
        b, s = self.dims(x, [0, 1])
        shape = self.concat_shape([b, s, heads, head_dim])
        r = self.op("Reshape", [x, shape])
        return self.op("Transpose", [r], perm=list(perm))

    def merge_heads(self, x: str, hidden: int) -> str:
        """[b, h, s, d] -> Transpose [b, s, h, d] -> Reshape [b, s, h*d] (dynamic target)."""
        t = self.op("Transpose", [x], perm=[0, 2, 1, 3])
        b, s = self.dims(t, [0, 1])
        shape = self.concat_shape([b, s, hidden])
        return self.op("Reshape", [t, shape])

    def attention_core(self, q: str, k: str, v: str, heads: int, head_dim: int, hidden: int,
                       scale: str, mask_add: str | None = None,
                       k_perm: Sequence[int] = (0, 2, 3, 1),
                       causal=None) -> str:
        """MatMul(q, k^T) -> Div or Mul -> [Add mask] -> Softmax -> MatMul(v) -> merge.

        q, k, v are [b, s, hidden].  ``k_perm`` (0,2,3,1) transposes K in one step (old
        torch exports); (0,2,1,3) emits a second Transpose(0,1,3,2) as newer exports do.
        ``causal`` is a callable(scores) -> scores applied before the mask add."""
        qh = self.split_heads(q, heads, head_dim, [0, 2, 1, 3])
        if tuple(k_perm) == (0, 2, 3, 1):
            kt = self.split_heads(k, heads, head_dim, [0, 2, 3, 1])
        else:
            kh = self.split_heads(k, heads, head_dim, [0, 2, 1, 3])
            kt = self.op("Transpose", [kh], perm=[0, 1, 3, 2])
        vh = self.split_heads(v, heads, head_dim, [0, 2, 1, 3])
        scores = self.op("MatMul", [qh, kt])
        if scale == "div":
            scores = self.op("Div", [scores, self.const(math.sqrt(head_dim))])
        elif scale == "mul":
            scores = self.op("Mul", [scores, self.const(1.0 / math.sqrt(head_dim))])
        else:
            raise ValueError(f"unknown attention scale {scale!r}")
        if causal is not None:
            scores = causal(scores)
        if mask_add is not None:
            scores = self.op("Add", [scores, mask_add])
        probs = self.op("Softmax", [scores], axis=-1)
        ctx = self.op("MatMul", [probs, vh])
        return self.merge_heads(ctx, hidden)

    # ----------------------------------------------------------- finishing
    def model(self, doc: str = "") -> onnx.ModelProto:
        graph = helper.make_graph(self.nodes, self.name, self.inputs, self.outputs,
                                  initializer=self.initializers)
        m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", self.opset)],
                              producer_name="kiln-models", producer_version="1")
        # onnx 1.17's helper defaults ir_version to the newest it knows; keep it to what
        # the opset needs so older runtimes accept the file.
        m.ir_version = 8 if self.opset <= 17 else (9 if self.opset <= 20 else 10)
        m.doc_string = doc
        return m


def param_count(model: onnx.ModelProto) -> int:
    """Elements in floating-point initializers (weights, biases, BatchNorm running stats,
    embeddings); 0-d exporter constants (eps, 0.5, sqrt(d)) are not counted."""
    total = 0
    for t in model.graph.initializer:
        if len(t.dims) and t.data_type in (TensorProto.FLOAT, TensorProto.FLOAT16, TensorProto.BFLOAT16,
                           TensorProto.DOUBLE):
            total += int(np.prod(t.dims))
    return total
