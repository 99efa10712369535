#!/usr/bin/env bash
# `make test-rpi-emulated`: the SSH device tests against an emulated Raspberry Pi userland.
#
# The remote "python" is Debian bookworm's aarch64 CPython 3.11 run under qemu user-mode with the aarch64
# ai-edge-litert wheel; sshd and the ssh client are the real ones on 127.0.0.1 (tests/test_ssh_emulated.py).
# Emulated timings say nothing about a real Pi: the test never asserts latency and the report labels them.
# The root is cached in .edgekit-cache/rpi-emu (about 40 s to build from nothing; delete it to rebuild).
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE=${EDGEKIT_RPI_EMU_DIR:-$PWD/.edgekit-cache/rpi-emu}
ROOT=$CACHE/root
SHIM=$CACHE/python-aarch64
PY=${PY:-.venv/bin/python}

bash .ci/system-deps.sh
if ! command -v qemu-aarch64-static >/dev/null || ! command -v debootstrap >/dev/null; then
  [ "$(id -u)" = 0 ] || { echo "install qemu-user-static and debootstrap (root needed)" >&2; exit 1; }
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends qemu-user-static debootstrap >/dev/null
fi

if [ ! -f "$CACHE/.built" ]; then
  rm -rf "$CACHE" && mkdir -p "$ROOT"
  # The Debian mirror apt already uses on this machine (the only one reachable here).
  MIRROR=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null \
           | grep -E '^(URIs:|deb )' | grep -oE 'https?://[^ ]+/debian/?( |$)' | head -n1 | tr -d ' ' || true)
  MIRROR=${MIRROR:-http://deb.debian.org/debian}
  echo "building the aarch64 userland from $MIRROR ..."
  debootstrap --arch=arm64 --foreign --variant=minbase --include=python3 bookworm "$ROOT" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1
  # --foreign only downloads; unpacking the .debs is all a user-mode emulator needs (no chroot, no binfmt_misc).
  for deb in "$ROOT"/var/cache/apt/archives/*.deb; do dpkg-deb -x "$deb" "$ROOT"; done
  "$PY" -m pip install --quiet --target "$ROOT/opt/site" --platform manylinux_2_27_aarch64 \
      --platform manylinux2014_aarch64 --implementation cp --python-version 3.11 --abi cp311 \
      --only-binary=:all: --no-warn-conflicts ai-edge-litert
  # LiteRT's cpuinfo parses /proc/cpuinfo: under qemu it would read the x86 host's and crash. A Pi 4's file
  # inside the root is what qemu's -L path remapping serves instead.
  install -D -m644 "${EDGEKIT_CPUINFO:-/work/shared/rpi-standin/cpuinfo-rpi4}" "$ROOT/proc/cpuinfo"
  touch "$CACHE/.built"
fi

cat >"$SHIM" <<SH
#!/bin/sh
exec qemu-aarch64-static -cpu cortex-a72 -L "$ROOT" -E PYTHONPATH=/opt/site "$ROOT/usr/bin/python3.11" "\$@"
SH
chmod +x "$SHIM"
"$SHIM" -c 'import platform; print("emulated python:", platform.machine(), platform.python_version())'

EDGEKIT_RPI_EMU_PYTHON="$SHIM" .venv/bin/pytest -q -p no:warnings tests/test_ssh_emulated.py "$@"
