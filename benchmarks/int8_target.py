"""int8 that meets an accuracy target (issue 11): bytes, golden-set accuracy and CPU latency of float32, plain
int8, the int8 chosen by `--int8-max-drop`, and int16x8, with the search's wall time, for the digits recipe and
the quantization-hostile test model (tests/quant_debug/hostile.py).

Run: PYTHONPATH=. .venv/bin/python benchmarks/int8_target.py [--digits DIR] [--skip-digits]
(--digits: an existing `edgekit train digits` folder, else the recipe is trained into a temporary one, ~2 min.)
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

FORMATS = "saved_model,tflite-float32,tflite-int8,tflite-int16x8"


def latency_ms(blob: bytes, inputs: dict[str, np.ndarray], runs: int = 300) -> float:
    """Median of ``invoke()`` alone over ``runs`` after 30 warm-up runs, 2 threads, one golden sample
    (single-input models: the golden input is fed to the interpreter's only input)."""
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_content=blob, num_threads=2)
    it.allocate_tensors()
    d = it.get_input_details()[0]
    x = next(iter(inputs.values()))[:1]
    scale, zero = d["quantization"]
    it.set_tensor(d["index"], (np.clip(np.round(x / scale) + zero, -128, 127) if scale else x).astype(d["dtype"]))
    times = []
    for i in range(runs + 30):
        t = time.perf_counter()
        it.invoke()
        if i >= 30:
            times.append((time.perf_counter() - t) * 1e3)
    return float(np.median(times))


def measure(label: str, plain_dir: Path, budget_dir: Path) -> list[str]:
    from edgekit import manifest
    from edgekit.quant_debug import engine
    from edgekit.quant_debug.score import from_folder

    golden, first = from_folder(plain_dir)
    rows = []
    f32 = manifest.load(plain_dir).artifact("tflite-float32")
    for title, folder, art_id in (("float32", plain_dir, "tflite-float32"), ("int8 plain (per-channel)", plain_dir,
                                  "tflite-int8"), ("int8 chosen (budget)", budget_dir, "tflite-int8"),
                                  ("int16x8", plain_dir, "tflite-int16x8")):
        art = manifest.load(folder).artifact(art_id)
        blob = (folder / art.path).read_bytes()
        acc = golden.score(engine.run(blob, golden.inputs, first))
        search = art.extra.get("int8_search") if title.startswith("int8 chosen") else None
        extra = f"{search['summary']}" if search else ""
        rows.append(f"| {label} | {title} | {len(blob):,} | {len(blob) / f32.bytes:.3f}x | {acc * 100:.2f}% | "
                    f"{(acc - golden.reference_score()) * 100:+.2f} | {latency_ms(blob, golden.inputs):.3f} | "
                    f"{art.seconds:.1f} | {extra} |")
    return rows


def convert_pair(model: Path, work: Path, calibration: str | None, golden: str | None, budget: float,
                 golden_samples: int) -> tuple[Path, Path]:
    from edgekit.convert import ConvertOptions, convert

    common = {"calibration": calibration, "golden": golden, "force": True}
    if golden_samples:
        common["golden_samples"] = golden_samples
    # plain: a budget of 100 points is always met by per-channel int8, so nothing is searched (recipes set one)
    plain = convert(model, work / "plain", ConvertOptions(formats=FORMATS, int8_max_drop=100.0,
                                                          int8_weights="per-channel", **common)).out
    chosen = convert(model, work / "budget", ConvertOptions(formats="tflite-float32,tflite-int8", int8_max_drop=budget,
                                                            int8_weights="auto", **common)).out
    return plain, chosen


def hostile(work: Path) -> list[str]:
    from tests.quant_debug import hostile as h

    model = h.build(work / "hostile.keras")
    xc, yc = h.data(200, seed=11)
    xg, yg = h.data(300, seed=12)
    np.savez(work / "cal.npz", features=xc, labels=yc)
    np.savez(work / "golden.npz", features=xg, labels=yg)
    plain, chosen = convert_pair(model, work / "hostile", str(work / "cal.npz"), str(work / "golden.npz"), 2.0, 300)
    return measure("hostile (budget 2 pts)", plain, chosen)


def digits(work: Path, folder: Path | None) -> list[str]:
    if folder is None:
        folder = work / "digits"
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "edgekit", "train", "digits", "--out", str(folder)], check=True,
                       stdout=subprocess.DEVNULL)
        print(f"digits trained in {time.perf_counter() - t:.0f} s", flush=True)
    plain, chosen = convert_pair(folder, work / "digits-conv", None, None, 1.0, 0)
    return measure("digits (recipe budget 1 pt)", plain, chosen)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--digits", type=Path, default=None)
    ap.add_argument("--skip-digits", action="store_true")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="edgekit-int8-target-"))
    rows = hostile(work)
    if not args.skip_digits:
        rows += digits(work, args.digits)
    print("| model | artifact | bytes | x float32 | golden accuracy | vs float (pts) | invoke p50 ms (2 threads) | "
          "convert s | search |")
    print("|---|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
