#!/usr/bin/env bash
# CI smoke job for the newer stack: the wheel built from this checkout, installed into a fresh Python 3.13 venv
# with constraints-py313.txt (TensorFlow 2.21, no tensorflowjs), away from the checkout; a small trained model
# converted to SavedModel, every TFLite variant and ONNX, validated on CPU (every row passes), and tfjs reported
# unavailable with its reason. pip's cache (~/.cache/pip, or $PIP_CACHE_DIR) is the main stack's, reused.
# With CI=true a missing Python 3.13 fails the job; otherwise it is skipped with a message.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
t0=$SECONDS

find_py313() {
  local c
  for c in "${PY313:-}" "$(command -v python3.13 || true)" "$HOME/.pyenv/versions/3.13.0/bin/python3.13"; do
    [ -n "$c" ] && PYENV_VERSION=3.13.0 "$c" -c 'import sys; assert sys.version_info[:2] == (3, 13)' 2>/dev/null \
      && { echo "$c"; return; }
  done
}
PY313=$(find_py313)
if [ -z "$PY313" ]; then
  if [ "${CI:-}" = true ]; then echo "smoke-py313: CI=true and no Python 3.13 found (set PY313)" >&2; exit 1; fi
  echo "smoke-py313: skipped, no Python 3.13 found (set PY313=/path/to/python3.13)"; exit 0
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/edgekit-smoke-py313.XXXXXX")
# Removing a TensorFlow venv takes minutes on a busy disk: done in the background, the job does not wait.
trap '(rm -rf "$WORK" &)' EXIT
step() { echo "smoke-py313: [$((SECONDS - t0)) s] $*"; }

step "building the wheel"
"${BUILD_PYTHON:-.venv/bin/python}" -m pip wheel --no-deps --no-build-isolation -q -w "$WORK/dist" "$ROOT" 2>/dev/null
WHEEL=$(ls "$WORK"/dist/edgekit-*.whl)

step "fresh venv: $(PYENV_VERSION=3.13.0 "$PY313" --version)"
PYENV_VERSION=3.13.0 "$PY313" -m venv "$WORK/venv"
# convert + runtimes: what the smoke exercises (the browser rows and recipes are the main stack's suite).
# --no-compile: byte-compiling TensorFlow's thousands of modules at install time costs more than importing them.
"$WORK/venv/bin/pip" install -q --no-compile --disable-pip-version-check -c "$ROOT/constraints-py313.txt" \
  "edgekit[convert,runtimes] @ file://$WHEEL"

cd "$WORK"  # away from the checkout: only the installed wheel is importable
step "installed; a small trained model"
TF_CPP_MIN_LOG_LEVEL=2 "$WORK/venv/bin/python" - <<'EOF'
import edgekit, keras, numpy as np
assert "site-packages" in edgekit.__file__, edgekit.__file__
keras.utils.set_random_seed(0)
rng = np.random.default_rng(0)
x = rng.random((240, 12, 12, 1), dtype=np.float32)
y = (x[:, :6].mean(axis=(1, 2, 3)) > x[:, 6:].mean(axis=(1, 2, 3))).astype("int32")
m = keras.Sequential([keras.Input((12, 12, 1), name="image"), keras.layers.Conv2D(8, 3, activation="relu"),
                      keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(2, activation="softmax")])
m.compile("adam", "sparse_categorical_crossentropy")
m.fit(x, y, epochs=4, verbose=0)
m.save("model.keras")
np.savez("calibration.npz", image=x, labels=y)
EOF

step "edgekit convert (all: tfjs must be left out with its reason)"
"$WORK/venv/bin/edgekit" convert model.keras --out art --calibration calibration.npz --golden-samples 32 -q

step "edgekit validate"
# CI unset for this one command: the browser rows (no Playwright in this venv) are unavailable, not failures;
# the check below requires every other row to pass.
set +e
CI= "$WORK/venv/bin/edgekit" validate art --runs 10 --min-time 0 --warmup-min-time 0 --json > report.json
rc=$?
set -e

"$WORK/venv/bin/python" - "$rc" <<'EOF'
import json, sys
manifest = json.load(open("art/manifest.json"))
produced = {a["id"]: a["status"] for a in manifest["artifacts"]}
want = ["saved_model", "tflite-float32", "tflite-float16", "tflite-dynamic", "tflite-int8", "onnx"]
assert produced == dict.fromkeys(want, "ok"), produced
tfjs = [w for w in manifest["warnings"] if w.startswith("tfjs left out")]
assert tfjs and "TensorFlow 2.19" in tfjs[0] and "LiteRT.js" in tfjs[0], manifest["warnings"]
converters = {a["id"]: f'{a["converter"]["tool"]} {a["converter"]["version"]}' for a in manifest["artifacts"]}
rows = json.load(open("report.json"))["results"]
local = [r for r in rows if r["runtime"] in ("tensorflow", "litert", "onnxruntime")]
bad = [(r["artifact"], r["runtime"], r["status"], r["reason"]) for r in local if r["status"] != "pass"]
assert not bad and int(sys.argv[1]) == 0, (sys.argv[1], bad)
assert {(r["artifact"], r["runtime"]) for r in local} == {("saved_model", "tensorflow"), ("onnx", "onnxruntime")} | {
    (a, "litert") for a in want if a.startswith("tflite")}, local
others = [r for r in rows if r not in local]
assert all(r["status"] == "unavailable" and "Playwright" in r["reason"] for r in others), others
print("smoke-py313: converters:", ", ".join(sorted(set(converters.values()))))
print("smoke-py313: rows:", ", ".join(f'{r["artifact"]}/{r["runtime"]} {r["status"]}' for r in rows))
print("smoke-py313: tfjs:", tfjs[0][:200], "...")
EOF
step "passed"
