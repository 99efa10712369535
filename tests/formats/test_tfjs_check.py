"""edgekit.formats.tfjs_check: convert runs one golden sample through TF.js in Node and records what it found."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from edgekit import artifact_check
from edgekit.errors import EdgekitError
from edgekit.formats import TARGETS, tfjs, tfjs_check
from edgekit.manifest import Artifact, TensorSpec
from tests.helpers import require


def _node() -> None:
    from edgekit.runtimes.tfjs_node import unavailable_reason

    require(unavailable_reason() is None, "TF.js in Node is not installed")


def _art() -> Artifact:
    return Artifact(id="tfjs", format="tfjs", variant="float32", path="tfjs",
                    io_names={"inputs": ["x"], "outputs": ["y"]})


def _ran(y) -> SimpleNamespace:
    return SimpleNamespace(outputs={"y": np.asarray(y, np.float32)}, load_ms=3.0)


CTX = SimpleNamespace(outputs=[TensorSpec("y", [None, 2], "float32")], reference={"y": np.array([[0.2, 0.8]] * 4)})


def test_record_statuses_from_each_backends_outcome() -> None:
    art = _art()
    rc = tfjs_check.record(CTX, art, ["y"], {"wasm": _ran([[0.2, 0.8]]), "cpu": _ran([[0.2, 0.8000001]])})
    assert rc.status == "runnable" and rc.backends == {"wasm": "ran", "cpu": "ran"} and rc.max_abs_diff < 1e-6
    assert art.ok

    rc = tfjs_check.record(CTX, art, ["y"], {"wasm": EdgekitError("rank-1 bias"), "cpu": _ran([[0.2, 0.8]])})
    assert rc.status == "partly-runnable" and art.ok and "wasm backend cannot run it: rank-1 bias" in rc.reason
    assert tfjs_check.known_failure(art.__class__(**{**vars(art), "run_check": rc}), "tfjs-browser-wasm")
    assert tfjs_check.known_failure(art.__class__(**{**vars(art), "run_check": rc}), "tfjs-cpu") is None

    rc = tfjs_check.record(CTX, art, ["y"], {"wasm": _ran([[0.9, 0.1]]), "cpu": _ran([[0.2, 0.8]])})
    assert rc.status == "mismatch" and art.ok and rc.max_abs_diff == pytest.approx(0.7)
    rc = tfjs_check.record(CTX, art, ["y"], {"wasm": _ran([[0.2, 0.8]]), "cpu": _ran([[np.nan, 0.8]])})
    assert rc.status == "mismatch" and rc.max_abs_diff is None  # NaN: gross, and no number JSON can hold

    timeout = EdgekitError("not checked: TF.js (wasm+cpu) in Node did not finish within 120 s")
    rc = tfjs_check.record(CTX, art, ["y"], {"wasm": timeout, "cpu": timeout})
    assert rc.status == "skipped" and art.ok and "did not finish" in rc.reason  # a slow machine is no verdict

    rc = tfjs_check.record(CTX, art, ["y"], {"wasm": EdgekitError("op X"), "cpu": EdgekitError("op X")})
    assert rc.status == "not-runnable" and art.status == "not-runnable" and art.reason == rc.reason
    assert "wasm: op X; cpu: op X" in rc.reason


def test_without_node_the_check_says_it_was_skipped_and_why(monkeypatch, tmp_path) -> None:
    from edgekit.runtimes import tfjs_node

    monkeypatch.setattr(tfjs_node, "unavailable_reason", lambda options=None: "Node.js was not found on PATH")
    art = _art()
    ctx = SimpleNamespace(staging=tmp_path, inputs=[TensorSpec("x", [None, 2], "float32")],
                          check_inputs={"x": np.zeros((2, 2), np.float32)}, outputs=CTX.outputs)
    artifact_check.check(ctx, art)
    assert art.ok and art.run_check.status == "skipped" and "Node.js was not found" in art.run_check.reason
    assert art.extra["load_check"] == "skipped: Node.js was not found on PATH"


def test_a_normal_model_is_recorded_runnable(converted_mlp) -> None:
    """The whole convert: the MLP's tfjs artifact ran on both backends and matched Keras (measured ~1e-7)."""
    _node()
    art = next(a for a in converted_mlp.manifest.artifacts if a.id == "tfjs")
    rc = art.run_check
    assert art.ok and rc.status == "runnable" and rc.backends == {"wasm": "ran", "cpu": "ran"}, rc
    assert rc.max_abs_diff < 1e-4 and rc.seconds < 30


def test_a_graph_tfjs_cannot_run_is_not_runnable(lstm_prepared, tmp_path) -> None:
    """Keras 3's LSTM loop (While over TensorLists) converts, loads, and runs on no TF.js backend: what the
    tfjs artifact is when the unrolled lowering cannot be built (keras_model None: the canonical graph)."""
    _node()
    p = lstm_prepared
    with p.context(tmp_path / "staging") as ctx:
        ctx.keras_model, ctx.reference = None, p.reference
        art = tfjs.convert(ctx, TARGETS["tfjs"])
        artifact_check.check(ctx, art)
    rc = art.run_check
    assert art.status == "not-runnable" and rc.status == "not-runnable" and art.reason == rc.reason
    assert set(rc.backends) == {"wasm", "cpu"} and all("Cannot compute the outputs" in m for m in rc.backends.values())
    assert (ctx.staging / art.path / "model.json").is_file()  # converted: the files stay


def test_validate_reports_what_the_check_recorded_without_running_it(converted_mlp, tmp_path, monkeypatch) -> None:
    """A backend convert found unable to run the artifact is an error row with convert's reason (not rerun)."""
    import json
    import shutil

    from edgekit import validate as validate_mod
    from edgekit.bench import BenchSettings

    folder = tmp_path / "mlp"
    shutil.copytree(converted_mlp.out, folder)
    doc = json.loads((folder / "manifest.json").read_text())
    tfjs_doc = next(a for a in doc["artifacts"] if a["id"] == "tfjs")
    tfjs_doc["run_check"] = {"status": "partly-runnable", "backends": {"wasm": "op Foo not supported", "cpu": "ran"}}
    (folder / "manifest.json").write_text(json.dumps(doc))
    # Only the rows the record answers: the others (which would start workers) are made unavailable here.
    monkeypatch.setattr(validate_mod, "unavailable_reason",
                        lambda runtime, kind: None if runtime in ("tfjs-wasm", "tfjs-browser-wasm") else "not here")
    quick = BenchSettings(runs=1, warmup=0, min_time=0.0, max_time=1.0, warmup_min_time=0.0)
    rep = validate_mod.validate(folder, validate_mod.ValidateOptions(artifacts=["tfjs"], threads=1, bench=quick,
                                                                     report_dir=tmp_path / "r", ci=False))
    rows = {r["runtime"]: r for r in rep["results"]}
    for rt in ("tfjs-wasm", "tfjs-browser-wasm"):
        assert rows[rt]["status"] == "error" and rows[rt]["wall_s"] is None, rows[rt]
        assert "convert's TF.js check found the wasm backend cannot run it (op Foo" in rows[rt]["reason"]
    assert rows["tfjs-cpu"]["status"] == "unavailable"

    # An artifact no backend runs: listed under not_produced with its status, and said so in words.
    from edgekit.report import not_produced_text

    assert not_produced_text({"artifact": "tfjs", "reason": "x", "status": "not-runnable"}).startswith("converted, but")
    assert not_produced_text({"artifact": "tfjs", "reason": "x"}) == "not produced by convert"


def test_the_convert_summary_says_not_runnable_with_the_reason() -> None:
    from pathlib import Path

    from edgekit.console import out_console, print_convert_summary
    from edgekit.manifest import Manifest, RunCheck

    bad = Artifact(id="tfjs", format="tfjs", variant="float32", path="tfjs", status="not-runnable",
                   reason="converted, but TF.js in Node cannot run one golden sample (wasm: op X; cpu: op X)")
    partly = Artifact(id="tfjs-uint8", format="tfjs", variant="weights-uint8", path="t2",
                      run_check=RunCheck("partly-runnable", reason="TF.js's wasm backend cannot run it: op Y"))
    m = Manifest(edgekit_version="x", source={}, inputs=[], outputs=[], artifacts=[bad, partly])
    with out_console.capture() as cap:
        print_convert_summary(SimpleNamespace(manifest=m, out=Path("out"), seconds=1.0))
    text = " ".join(cap.get().split())  # table cells wrap: check words, not whole sentences
    assert "tfjs │ not runnable" in text and "op X; cpu: op X)" in text
    assert "TF.js check partly-runnable:" in text and "op Y" in text
    assert "1 format(s) failed or not runnable: tfjs (exit code 1)" in text
