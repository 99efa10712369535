"""The hostile model does what it is for: plain int8 collapses, float16 and dynamic-range do not."""

from __future__ import annotations

from edgekit.quant_debug import engine
from edgekit.quant_debug.score import from_folder


def test_plain_int8_collapses_where_float16_and_dynamic_hold(hostile_converted):
    res = hostile_converted
    golden, _ = from_folder(res.out)
    assert golden.metric == "accuracy" and golden.reference_score() > 0.95
    scores = {a.id: golden.score(engine.run((res.out / a.path).read_bytes(), golden.inputs))
              for a in res.manifest.artifacts if a.format == "tflite" and a.variant != "int8"}
    drop = {k: (golden.reference_score() - v) * 100 for k, v in scores.items()}
    assert drop["tflite-float32"] < 0.5
    assert drop["tflite-float16"] < 1.0 and drop["tflite-dynamic"] < 1.0
    search = res.manifest.artifact("tflite-int8").extra["int8_search"]
    plain = [c for c in search["candidates"] if not c["float_layers"]]  # per-tensor, then per-channel
    assert [c["layout"] for c in plain] == ["per-tensor", "per-channel"]
    assert all(c["drop_points"] > 30.0 for c in plain), plain  # near chance (3 classes)
    print(f"hostile model: plain int8 drops {[c['drop_points'] for c in plain]} points; {drop}")
