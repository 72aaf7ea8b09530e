#!/usr/bin/env bash
# Seed corpora for the fuzz targets, made at run time from the conformance data:
#   build-fuzz/corpus/onnx_import/   a few small node-test models and SqueezeNet
#   build-fuzz/corpus/engine_load/   engines built from those models with the kiln CLI
# Usage: fuzz/make_seeds.sh [path/to/kiln]   (default: build/kiln; run `make build` first)
# KILN_FUZZ_CORPUS=DIR puts the corpora elsewhere.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
kiln="${1:-$root/build/kiln}"
out="${KILN_FUZZ_CORPUS:-$root/build-fuzz/corpus}"  # under build-fuzz/: ignored by git
[[ -x "$kiln" ]] || { echo "make_seeds.sh: $kiln not found; run 'make build' or pass the kiln binary" >&2; exit 1; }
[[ -d "$root/conformance-data/node" ]] || { echo "make_seeds.sh: conformance-data missing; run 'make setup'" >&2; exit 1; }
mkdir -p "$out/onnx_import" "$out/engine_load"

# Small models that cover initializers, attributes, several dtypes and subgraphs (If, Loop, Scan).
models=(
  light/test_squeezenet
  node/test_add node/test_conv_with_strides_padding node/test_gemm_default_matrix_bias
  node/test_reshape_reordered_all_dims node/test_slice node/test_gather_0 node/test_cast_FLOAT_to_INT32
  node/test_maxpool_2d_pads node/test_batchnorm_example node/test_softmax_axis_1 node/test_concat_3d_axis_1
  node/test_if node/test_loop11 node/test_scan9_sum node/test_range_float_type_positive_delta_expanded
  node/test_constantofshape_int_zeros node/test_nonzero_example node/test_topk node/test_resize_upsample_scales_nearest
)
n_onnx=0 n_engine=0
for m in "${models[@]}"; do
  src="$root/conformance-data/$m/model.onnx"
  [[ -f "$src" ]] || continue
  name="$(basename "$m")"
  cp "$src" "$out/onnx_import/$name.onnx"
  n_onnx=$((n_onnx + 1))
  # Not every model builds (an unsupported op is fine: it stays an ONNX seed).
  if "$kiln" build "$src" -o "$out/engine_load/$name.kiln" > /dev/null 2>&1; then
    n_engine=$((n_engine + 1))
  fi
done
echo "seeds: $n_onnx ONNX models in $out/onnx_import, $n_engine engines in $out/engine_load"
