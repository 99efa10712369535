"""quant-debug's worker process: ``python -m edgekit.quant_debug.worker JOB RESULT``.

Calibrates the folder's SavedModel on the calibration data, collects per-layer statistics, and measures on the
golden set the int8 model with each layer kept in float (every layer when the model has at most ``max_layers``,
else the union of the top suspects by each statistic), within ``time_bound_s``. Writes {"report": ...} or
{"error": ...} to RESULT.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from edgekit.errors import InputError
from edgekit.quant_debug.records import LayerStat, QuantDebugReport

SUSPECTS_PER_STAT = 6
STAT_SAMPLES = 64  # calibration samples the per-layer statistics run on (the debug model runs one at a time)


def suspects(stats: list[LayerStat], per_stat: int = SUSPECTS_PER_STAT) -> list[str]:
    """The union of the top layers by each statistic, in depth order."""
    keys = (lambda s: -s.rmse_over_scale, lambda s: s.sqnr_db, lambda s: -s.outlier_ratio,
            lambda s: -s.channel_spread, lambda s: s.median_channel_steps)
    picked = {s.layer for key in keys for s in sorted(stats, key=key)[:per_stat]}
    return [layer for layer in dict.fromkeys(s.layer for s in stats) if layer in picked]


def analyse(job: dict[str, Any]) -> QuantDebugReport:
    import tensorflow as tf

    from edgekit.data import load_dataset
    from edgekit.folder import ConvertedFolder
    from edgekit.quant_debug import engine
    from edgekit.quant_debug.run import measurer
    from edgekit.quant_debug.score import from_folder
    from edgekit.quant_debug.search import rank

    t0 = time.monotonic()
    folder = Path(job["folder"])
    m = ConvertedFolder.open(folder).manifest
    golden, output = from_folder(folder)
    calib = load_dataset(job["calibration"], m.inputs, "calibration")
    names = [t.name for t in m.inputs]
    samples = [{n: calib.arrays[n][i:i + 1] for n in names} for i in range(min(calib.samples, job["samples"]))]
    conv = tf.lite.TFLiteConverter.from_saved_model(str(folder / "saved_model"), signature_keys=["serving_default"])
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: (list(s.values()) if len(s) == 1 else s for s in samples)
    q = engine.Quantizer(engine.calibrate(conv), job["io"])
    layout = job["layout"]
    stats = engine.layer_stats(q, layout, samples[:STAT_SAMPLES])
    measure = measurer(q, golden, output)
    plain = measure(layout, ())
    layers = q.graph.layers()
    if len(layers) > job["max_layers"]:
        layers = suspects(stats)
    deadline = time.monotonic() + job["time_bound_s"]
    effects = rank(measure, layout, layers, q.graph.consumers, plain, golden.metric, deadline)
    return QuantDebugReport(
        folder=str(folder), metric=golden.metric, reference=round(golden.reference_score(), 6),
        golden_samples=len(golden.reference), calibration=calib.source, calibration_samples=len(samples),
        plain=plain, stats=stats, effects=effects, time_bound_s=job["time_bound_s"],
        seconds=round(time.monotonic() - t0, 2), next_step=next_step(m, folder, job["calibration"], effects, plain))


def next_step(m: Any, folder: Path, calibration: str, effects: list[Any], plain: Any) -> str:
    """The one sentence that says what to do, with the command that applies it."""
    from edgekit.quant_debug.search import unit

    budget = 1 if plain.drop_points is None or plain.drop_points > 1 else 2
    top = [e for e in effects if e.measured and (e.recovery_points or 0) > 0][:2]
    floats = ", ".join(dict.fromkeys(name for e in top for name in unit(e)))
    flag = "--int8-min-sqnr 20" if plain.drop_points is None else f"--int8-max-drop {budget}"
    what = f"keep {floats} in float" if floats else "no layer in float recovers accuracy: try tflite-int16x8"
    golden = (m.golden or {}).get("source") or ""
    held_out = f" --golden {golden}" if golden not in ("", "random", calibration) and Path(golden).exists() else ""
    return (f"To {what}, run `edgekit convert {m.source.get('path', 'MODEL')} --out {folder}-int8 --formats "
            f"tflite-int8 --calibration {calibration}{held_out} {flag} --int8-weights auto`: it searches, keeps the "
            "fewest float layers that meet the budget on the golden set and records the search in the manifest.")


def main(job_path: Path, result: Path) -> int:
    from edgekit.isolate import crash_if_asked

    crash_if_asked("quant-debug")  # tests prove a native crash here is one error line in the parent
    job = json.loads(job_path.read_text(encoding="utf-8"))
    try:
        doc: dict[str, Any] = {"report": analyse(job).model_dump()}
    except InputError as e:
        doc = {"error": str(e), "input_error": True}
    except Exception as e:  # reported to the parent as one line
        doc = {"error": f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"[:400]}
    result.write_text(json.dumps(doc), encoding="utf-8")
    sys.stderr.flush()
    os._exit(0)  # skip TensorFlow's teardown (seconds): nothing is left to flush


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), Path(sys.argv[2])))
