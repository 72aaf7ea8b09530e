#!/usr/bin/env bash
# Packs what the lent GPU machine needs to run kiln's GPU tests and benchmarks into one archive
# (build/device.tar.xz, under the device tool's 64 MiB carry limit): the kiln CLI and test
# binaries of a KILN_CUDA build and the non-system shared libraries they link (Debian's oneDNN,
# protobuf, fmt, ...; the GPU machine runs Ubuntu without them). CUDA's own libraries (cudart is
# static; cuBLASLt, cuDNN and the driver) are that machine's. On the device:
#   tar xf build/device.tar.xz -C /tmp && export LD_LIBRARY_PATH=/tmp/kiln-device/lib
set -euo pipefail
BUILD=${1:-build}
OUT=$BUILD/kiln-device
rm -rf "$OUT" && mkdir -p "$OUT/bin" "$OUT/lib"
bins=("$BUILD/kiln" "$BUILD/tests/kiln_tests" "$BUILD/tests/kiln_cuda_tests")
for b in "${bins[@]}"; do [ -x "$b" ] && cp "$b" "$OUT/bin/"; done
# Every library the binaries load that is not glibc's or the C++ runtime's.
ldd "${bins[@]}" 2>/dev/null | awk '/=> \//{print $3}' | sort -u |
  grep -v -E '/(libc|libm|libdl|libpthread|librt|libstdc\+\+|libgcc_s)\.so' |
  grep -v -E '/lib(cublas|cublasLt|cudnn[a-z_]*|cudart|cuda|nvrtc|nvJitLink)\.so' | while read -r lib; do
  cp -L "$lib" "$OUT/lib/"
done
tar -C "$BUILD" -cJf "$BUILD/device.tar.xz" kiln-device
ls -la "$BUILD/device.tar.xz"
