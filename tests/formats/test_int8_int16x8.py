"""tflite-int16x8 (opt-in): int16 activations x int8 weights keep the hostile model's accuracy where plain int8
collapses, and validate passes it on LiteRT."""

from __future__ import annotations

from edgekit.formats import GROUPS, TARGETS, parse_formats
from edgekit.protocol import BenchSettings
from edgekit.quant_debug import engine
from edgekit.quant_debug.score import from_folder
from edgekit.validate import ValidateOptions, validate


def test_opt_in_only():
    assert TARGETS["tflite-int16x8"].opt_in and TARGETS["tflite-int16x8"].needs_calibration
    assert "tflite-int16x8" not in GROUPS["all"] and "tflite-int16x8" not in GROUPS["tflite"]
    assert [t.id for t in parse_formats("tflite-int16x8")] == ["tflite-int16x8"]


def test_int16x8_survives_the_outliers_and_validates(hostile_converted):
    out, m = hostile_converted.out, hostile_converted.manifest
    art, f32 = m.artifact("tflite-int16x8"), m.artifact("tflite-float32")
    assert art.ok and art.variant == "int16x8"
    assert art.converter["options"]["activations"] == "int16" and "XNNPACK" in " ".join(art.notes)
    golden, _ = from_folder(out)
    acc = golden.score(engine.run((out / art.path).read_bytes(), golden.inputs))
    assert (golden.reference_score() - acc) * 100 < 1.0  # plain int8 drops ~70 points (test_hostile)
    assert art.bytes < 0.5 * f32.bytes
    fast = BenchSettings(runs=5, warmup=1, min_time=0.0, max_time=2.0, warmup_min_time=0.0)
    rep = validate(out, ValidateOptions(artifacts=["tflite-int16x8"], bench=fast, threads=1, ci=False,
                                        report_dir=out.parent / "int16x8-report"))
    rows = [r for r in rep["results"] if r["artifact"] == "tflite-int16x8"]
    assert rows and all(r["status"] == "pass" for r in rows), rows
    assert rows[0]["accuracy"]["delta"] > -0.01
