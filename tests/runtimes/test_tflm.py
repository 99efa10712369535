"""edgekit.runtimes.tflm: the real TFLM interpreter as validate's runner, on the tiny CNN's tflm artifact:
outputs against LiteRT on the same file, parity through validate, the arena actually used, failures as rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from edgekit import manifest
from edgekit.errors import InputError
from edgekit.protocol import BenchSettings, load_npz
from edgekit.quant import quant_params, quantize
from tests.helpers import job_for, require

FAST = BenchSettings(runs=5, warmup=1, min_time=0.0, max_time=2.0, warmup_min_time=0.0)


@pytest.fixture(scope="module")
def cnn(converted_tflm_cnn):
    from edgekit.runtimes.tflm import unavailable_reason

    require(unavailable_reason() is None, "tflite-micro is not installed (make setup installs it)")
    folder = converted_tflm_cnn.out
    art = manifest.load(folder).artifact("tflm")
    assert art.ok, art.reason
    x = load_npz(folder / manifest.GOLDEN_INPUTS)["image"]
    return folder, art, quantize(x, quant_params(art, "inputs")["image"])


def _job(tmp_path: Path, folder: Path, art: manifest.Artifact, q: np.ndarray, **kw):
    return job_for(tmp_path, "tflm", "tflm", folder / art.path, {"image": q}, ["output_0"], bench=FAST,
                   io_names=art.io_names, extra=kw.pop("extra", art.extra), **kw)


def test_tflm_outputs_match_litert_on_the_same_file(cnn, tmp_path: Path) -> None:
    from ai_edge_litert.interpreter import Interpreter

    from edgekit.runtimes.tflm import TflmRunner

    folder, art, q = cnn
    res = TflmRunner().run_job(_job(tmp_path, folder, art, q))
    got = load_npz(tmp_path / "outputs.npz")["output_0"]
    assert got.dtype == np.int8 and got.shape == (len(q), 4)
    it = Interpreter(model_path=str(folder / art.path / "model.tflite"))
    it.allocate_tensors()
    i, o = it.get_input_details()[0], it.get_output_details()[0]
    ref = []
    for k in range(len(q)):
        it.set_tensor(i["index"], q[k:k + 1])
        it.invoke()
        ref.append(it.get_tensor(o["index"]))
    diff = np.abs(got.astype(int) - np.concatenate(ref).astype(int))
    # TFLM's reference kernels and LiteRT's optimized ones: at most one int8 step apart, almost always equal.
    assert diff.max() <= 1 and (diff == 0).mean() >= 0.9, (diff.max(), (diff == 0).mean())
    assert res.latency["count"] >= 5 and res.versions["tflite-micro"].startswith("0.dev")
    used = int(art.extra["tflm"]["arena"]["recorded_bytes"])
    assert any(f"TFLM arena used {used} of {art.extra['tflm']['arena']['recommended_bytes']} bytes" in n
               for n in res.notes), res.notes
    assert any("host (x86-64) timing of TFLM's reference kernels" in n for n in res.notes)


def test_every_timed_invoke_sees_the_staged_input(cnn, tmp_path: Path) -> None:
    """TFLM's planner reuses the input buffer once it is consumed: a second Invoke() without writing the input
    again computes on garbage (measured: other outputs for the CNN; GATHER failing for the digit-rows LSTM)."""
    from edgekit.runtimes.tflm import TflmRunner

    folder, art, q = cnn
    r = TflmRunner()
    r.open(_job(tmp_path, folder, art, q))
    try:
        r.stage({"image": q[:1]})
        r.invoke()
        r.invoke()  # the timed loop invokes the staged sample again and again
        again = np.array(r._interp.get_output(0))
        once = r.infer({"image": q[:1]})["output_0"]
    finally:
        r.close()
    assert np.array_equal(again, once), (again, once)


def test_validate_gives_a_tflm_row_with_int8_parity(cnn, fresh_copy) -> None:
    from edgekit.validate import ValidateOptions, validate

    folder = fresh_copy(cnn[0])
    rep = validate(folder, ValidateOptions(artifacts=["tflm"], bench=FAST))
    (row,) = rep["results"]
    assert row["runtime"] == "tflm" and row["status"] == "pass", row
    parity = row["parity"]["outputs"]["output_0"]
    assert parity["sqnr_db"] > 30 and parity["top1"] >= 0.85, parity  # near-ties are allowed by the int8 policy
    assert row["latency_ms"]["p50"] > 0


def test_an_arena_too_small_is_refused_with_the_size(cnn, tmp_path: Path) -> None:
    from edgekit.runtimes.tflm import TflmRunner

    folder, art, q = cnn
    extra = {"tflm": {"arena": {"recommended_bytes": 256}}}
    with pytest.raises(InputError, match="cannot allocate the model in the recommended arena of 256 bytes"):
        TflmRunner().open(_job(tmp_path, folder, art, q, extra=extra))


def test_availability_check_names_the_package(monkeypatch) -> None:
    import importlib.util

    from edgekit.runtimes import spec, tflm

    assert spec("tflm").formats == ("tflm",) and set(spec("tflm").runs_on) == {"local", "mcu"}
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    assert tflm.unavailable_reason() == "TFLite Micro is not installed: pip install tflite-micro (x86-64 Linux, " \
                                        "Python 3.11 wheels)"


def test_the_lstm_keeps_state_so_the_runner_resets_it(converted_tflm_lstm, fresh_copy) -> None:
    from tflite_micro import runtime

    from edgekit.validate import ValidateOptions, validate

    folder = converted_tflm_lstm.out
    art = manifest.load(folder).artifact("tflm")
    assert art.ok and art.requires_state_reset, art.reason
    x = quantize(load_npz(folder / manifest.GOLDEN_INPUTS)["sequence"][:1], quant_params(art, "inputs")["sequence"])
    it = runtime.Interpreter.from_bytes((folder / art.path / "model.tflite").read_bytes(),
                                        arena_size=art.extra["tflm"]["arena"]["recommended_bytes"])
    outs = []
    for reset in (False, False, True):
        if reset:
            it.reset()
        it.set_input(x, 0)
        it.invoke()
        outs.append(np.array(it.get_output(0)))
    assert not np.array_equal(outs[0], outs[1])  # the second call starts from the first one's state
    assert np.array_equal(outs[0], outs[2])  # reset(): the same input gives the same output again
    rep = validate(fresh_copy(folder), ValidateOptions(artifacts=["tflm"], bench=FAST))
    (row,) = rep["results"]
    assert row["status"] == "pass" and row["parity"]["outputs"]["output_0"]["sqnr_db"] > 20, row


def test_mobilenet_v2_runs_on_tflm_with_parity(mobilenet_path, mobilenet_calibration, tmp_path: Path) -> None:
    """MobileNetV2 alpha 0.35 at 32x32: converted to tflm, its arena measured, parity passes on TFLM's kernels."""
    from edgekit.convert import ConvertOptions, convert
    from edgekit.formats.tflm import record_of
    from edgekit.runtimes.tflm import unavailable_reason
    from edgekit.validate import ValidateOptions, validate

    require(unavailable_reason() is None, "tflite-micro is not installed (make setup installs it)")
    res = convert(mobilenet_path, tmp_path / "mnv2", ConvertOptions(calibration=str(mobilenet_calibration),
                                                                    golden_samples=16, formats="tflm"))
    art = res.manifest.artifact("tflm")
    assert art.ok, art.reason
    rec = record_of(art)
    assert {"CONV_2D", "DEPTHWISE_CONV_2D", "ADD", "MEAN", "FULLY_CONNECTED", "SOFTMAX"} <= set(rec.ops)
    assert rec.arena.bytes >= rec.arena.recorded_bytes > 10_000 and rec.flash_bytes > 100_000
    rep = validate(res.out, ValidateOptions(artifacts=["tflm"], bench=FAST, report_dir=tmp_path / "r"))
    (row,) = rep["results"]
    assert row["status"] == "pass" and row["parity"]["outputs"]["output_0"]["sqnr_db"] > 12, row
