"""Every browser runtime edgekit validates with, on the digits model, in one run: p50, load, bytes downloaded.

    .venv/bin/python benchmarks/web_runtimes.py [--work DIR] [--runs 200] [--min-time 2] [--write BENCHMARKS.md]

Trains the built-in ``digits`` recipe (MobileNetV2 alpha 0.35, 64x64; reused from --work when there),
converts tflite-float32, tflite-int8, tfjs and onnx, then runs each through edgekit's browser harness
(edgekit/web/static/harness.js, the page `edgekit validate` uses) in the system's headless Chromium, one
thread each: TF.js wasm, TF.js WebGL, TF.js WebGPU, onnxruntime-web (wasm), LiteRT.js wasm (float32 and
int8) and LiteRT.js WebGPU. WebGPU rows run only where the browser offers an adapter; on a machine without
a GPU, --swiftshader asks Chromium for SwiftShader's (a CPU emulation: those rows are labelled, and their
latency says nothing about a GPU). Bytes are what the page fetched (resource timing), runtime and model
apart; load = library start-up + model load and compile, in the page.
Goal (issue 13): LiteRT.js int8 at most the download and at most the p50 of TF.js wasm float32.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from benchmarks.litert_overhead import write_section  # noqa: E402

SECTION = "## web runtimes on the digits model (benchmarks/web_runtimes.py)"
SWIFTSHADER = ["--enable-unsafe-webgpu", "--enable-unsafe-swiftshader"]
# (label, engine, backend, artifact id)
ROWS = [
    ("TF.js wasm (float32)", "tfjs", "wasm", "tfjs"),
    ("TF.js WebGL (float32)", "tfjs", "webgl", "tfjs"),
    ("TF.js WebGPU (float32)", "tfjs", "webgpu", "tfjs"),
    ("onnxruntime-web wasm (float32)", "onnx", "wasm", "onnx"),
    ("LiteRT.js wasm (float32)", "litert", "wasm", "tflite-float32"),
    ("LiteRT.js wasm (int8)", "litert", "wasm", "tflite-int8"),
    ("LiteRT.js WebGPU (float32)", "litert", "webgpu", "tflite-float32"),
]


def digits_folder(work: Path) -> Path:
    from edgekit.convert import ConvertOptions, convert
    from edgekit.train import TrainOptions, train

    out = work / "digits"
    if not (out / "artifacts" / "manifest.json").is_file():
        train("digits", TrainOptions(out=out, force=True))
        convert(out, None, ConvertOptions(formats="tflite-float32,tflite-int8,tfjs,onnx", force=True))
    return out / "artifacts"


def _feeds(folder: Path, art: Any, m: Any, n: int) -> list[tuple[str, np.ndarray]]:
    from edgekit.protocol import load_npz
    from edgekit.quant import quantize

    golden = load_npz(folder / "golden_inputs.npz")
    qin = {q.name: q for q in art.quantization.get("inputs", [])}
    names = (art.io_names or {}).get("inputs") or [s.name for s in m.inputs]
    return [(t, quantize(golden[s.name][:n], qin[s.name]) if s.name in qin else golden[s.name][:n])
            for t, s in zip(names, m.inputs, strict=True)]


def _top1(r: dict[str, Any], art: Any, m: Any, ref: np.ndarray) -> float:
    from edgekit.quant import dequantize

    name = ((art.io_names or {}).get("outputs") or [m.outputs[0].name])[0]
    got = r["outputs"][name]
    q = {x.name: x for x in art.quantization.get("outputs", [])}.get(m.outputs[0].name)
    got = dequantize(got, q) if q else got
    return float((got.argmax(1) == ref[: len(got)].argmax(1)).mean())


def measure(session: Any, folder: Path, row: tuple[str, str, str, str], a: argparse.Namespace) -> dict[str, Any]:
    from edgekit import manifest
    from edgekit.protocol import load_npz

    label, engine, backend, aid = row
    m = manifest.load(folder)
    art = next(x for x in m.artifacts if x.id == aid)
    path = folder / art.path
    model = path.parent if engine == "tfjs" and path.is_file() else path
    outs = (art.io_names or {}).get("outputs") or [s.name for s in m.outputs]
    r = session.run_harness(engine, backend, model, _feeds(folder, art, m, a.samples), outs, threads=1,
                            runs=a.runs, warmup=20, min_time=a.min_time, max_time=30.0, warmup_min_time=0.5)
    ref = load_npz(folder / "reference_outputs.npz")[m.outputs[0].name]
    res = r.get("resources") or []
    runtime = sum(x["bytes"] for x in res if x["path"].startswith("/vendor/"))
    model_bytes = sum(x["bytes"] for x in res if x["path"].startswith("/m") and not x["path"].endswith(".bin")
                      or (engine == "tfjs" and "shard" in x["path"]))
    return {"label": label, "p50": statistics.median(r["latency"]), "runs": len(r["latency"]),
            "load": r["backend_init_ms"] + r["load_ms"], "first": r["first_ms"], "runtime_bytes": runtime,
            "model_bytes": model_bytes, "top1": _top1(r, art, m, ref), "device": r.get("device") or "",
            "files": sorted(x["path"].rsplit("/", 1)[-1] for x in res if x["path"].startswith("/vendor/"))}


def run_all(folder: Path, a: argparse.Namespace) -> list[dict[str, Any]]:
    from edgekit.web import browser

    out: list[dict[str, Any]] = []
    with browser.BrowserSession() as plain:
        caps = plain.probe()
        for row in ROWS:
            offered = row[2] == "wasm" or bool(caps.get(row[2]))
            if offered:
                out.append(measure(plain, folder, row, a))
            elif not a.swiftshader:
                out.append({"label": row[0], "skipped": f"this Chromium offers no {row[2]} ({caps.get(row[2])})"})
    if a.swiftshader:
        with browser.BrowserSession(flags=SWIFTSHADER) as emu:
            caps2 = emu.probe()
            for row in ROWS:
                if row[2] != "wasm" and not caps.get(row[2]):
                    out.append({**measure(emu, folder, row, a), "emulated": True} if caps2.get(row[2]) else
                               {"label": row[0], "skipped": "no adapter even with SwiftShader"})
    return out


def table(rows: list[dict[str, Any]], env: str) -> str:
    lines = [SECTION, "", env, "",
             "| runtime | p50 ms | load ms | first ms | runtime bytes | model bytes | total bytes | top-1 vs Keras |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        if "skipped" in r:
            lines.append(f"| {r['label']} | - | - | - | - | - | - | {r['skipped']} |")
            continue
        emulated = r.get("emulated") or "swiftshader" in r["device"].lower()
        dev = " (SwiftShader: CPU emulation)" if emulated else ""
        lines.append(f"| {r['label']}{dev} | {r['p50']:.3f} | {r['load']:.0f} | {r['first']:.1f} | "
                     f"{r['runtime_bytes']:,} | {r['model_bytes']:,} | {r['runtime_bytes'] + r['model_bytes']:,} | "
                     f"{r['top1']:.3f} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, default=None, help="reuse/keep the trained digits folder here")
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--min-time", type=float, default=2.0)
    ap.add_argument("--samples", type=int, default=64, help="golden samples checked per runtime")
    ap.add_argument("--swiftshader", action="store_true", help="WebGPU rows on SwiftShader when no adapter")
    ap.add_argument("--write", type=Path, default=None, help="BENCHMARKS.md to update")
    a = ap.parse_args()
    work = a.work or Path(tempfile.mkdtemp(prefix="edgekit-web-bench-"))
    t = time.perf_counter()
    folder = digits_folder(work)
    rows = run_all(folder, a)
    wall = time.perf_counter() - t
    env = (f"Measured {time.strftime('%Y-%m-%d')} on {os.cpu_count()} cores (shared machine), headless Chromium, "
           f"1 thread per runtime, {a.runs}+ timed runs (min {a.min_time:g} s) after 20 warm-up; p50 of "
           "tensor-in to scores-in-JS per call; load = library start-up + model load/compile in the page; bytes = "
           f"what the page fetched (runtime: vendor files; model: the artifact). Total wall {wall:.0f} s.")
    text = table(rows, env)
    print(text)
    if a.write:
        write_section(a.write, text, SECTION)
    return 0


if __name__ == "__main__":
    sys.exit(main())
