"""The hostile model does what it is for: plain int8 collapses, float16 and dynamic-range do not."""

from __future__ import annotations

from edgekit.quant_debug import engine
from edgekit.quant_debug.score import from_folder


def test_plain_int8_collapses_where_float16_and_dynamic_hold(hostile_converted):
    res = hostile_converted
    golden, _ = from_folder(res.out)
    assert golden.metric == "accuracy" and golden.reference_score() > 0.95
    scores = {a.id: golden.score(engine.run((res.out / a.path).read_bytes(), golden.inputs))
              for a in res.manifest.artifacts if a.format == "tflite"}
    drop = {k: (golden.reference_score() - v) * 100 for k, v in scores.items()}
    assert drop["tflite-float32"] < 0.5
    assert drop["tflite-float16"] < 1.0 and drop["tflite-dynamic"] < 1.0
    assert drop["tflite-int8"] > 30.0, drop  # near chance (3 classes)
    print(f"hostile model: plain int8 drop {drop['tflite-int8']:.1f} points ({scores})")
