#!/usr/bin/env bash
# Idempotent set-up for a fresh Debian 12 machine: system packages, a Python venv with the pinned
# onnx package, and the ONNX conformance data derived from it. Safe to run on every `make`.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config
  libprotobuf-dev protobuf-compiler
  libcli11-dev libfmt-dev libspdlog-dev nlohmann-json3-dev libxxhash-dev libssl-dev
  libgtest-dev libgmock-dev
  libdnnl-dev
  clang libclang-rt-14-dev
  graphviz
  python3-venv
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# Python venv with the pinned packages; re-installed only when requirements.txt changes.
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
stamp=.venv/.requirements.sha256
want=$(sha256sum requirements.txt | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup: installing Python requirements"
  .venv/bin/pip install -q --disable-pip-version-check -r requirements.txt
  echo "$want" > "$stamp"
fi

# Conformance data: node tests and light_* models from the pinned onnx package.
.venv/bin/python scripts/prepare_conformance.py conformance-data
