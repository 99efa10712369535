"""Helpers shared by tests: import them from here, never from conftest.py."""

from __future__ import annotations

import functools
import os
import subprocess
import sys

import pytest

IN_CI = os.environ.get("CI", "").lower() == "true"


def require(condition: bool, reason: str) -> None:
    """Skip locally when an optional system component is missing; with CI=true that is a failure."""
    if condition:
        return
    if IN_CI:
        pytest.fail(f"CI=true and a required component is missing: {reason}")
    pytest.skip(reason)


def assert_bad_input(res, *fragments: str) -> None:
    """A CLI result for bad input: exit 2, one line starting 'edgekit: error: ', no traceback, the fragments."""
    assert res.exit_code == 2, res.output
    lines = [ln for ln in res.output.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("edgekit: error: "), res.output
    assert "Traceback" not in res.output
    for f in fragments:
        assert f in res.output, (f, res.output)


def manifest_dict() -> dict:
    """A manifest as `edgekit convert` writes it (every field kind present, int8 quantization included)."""
    sha = "ab" * 32
    return {
        "schema": 1,
        "edgekit_version": "0.4.0",
        "created": "2026-12-03T10:00:00+00:00",
        "source": {"path": "model.keras", "kind": "keras", "sha256": sha, "params": 1234, "keras": "3.15.1"},
        "signature": {"inputs": [{"name": "image", "shape": [None, 16, 16, 3], "dtype": "float32"}],
                      "outputs": [{"name": "output_0", "shape": [None, 4], "dtype": "float32"}]},
        "labels": ["a", "b", "c", "d"],
        "preprocessing": {"scale": 1.0, "resize": "stretch", "range": [0, 255], "note": {"x": [1, None, True]}},
        "golden": {"inputs": "golden_inputs.npz", "outputs": "reference_outputs.npz", "labels": None, "samples": 8,
                   "source": "random", "random": True, "sha256": {"golden_inputs.npz": sha}},
        "calibration": {"source": "random", "samples": 16, "sha256": sha, "random": True, "warnings": []},
        "warnings": ["w1"],
        "artifacts": [
            {"id": "tflite-int8", "format": "tflite", "variant": "int8", "path": "tflite/model_int8.tflite",
             "status": "ok", "reason": None, "sha256": sha, "bytes": 4096, "seconds": 1.25,
             "converter": {"name": "tf.lite", "options": {"opset": 17}}, "calibration": {"samples": 16},
             "quantization": {"inputs": [{"name": "image", "dtype": "int8", "scale": 0.5, "zero_point": -3}],
                              "outputs": []},
             "requires_flex": False, "requires_state_reset": False, "io_names": {"inputs": ["serving_image:0"],
                                                                               "outputs": ["Identity:0"]},
             "notes": ["n"], "extra": {"ops": ["CONV_2D"]}},
            {"id": "onnx", "format": "onnx", "variant": "float32", "path": "onnx/model.onnx", "status": "failed",
             "reason": "boom", "sha256": None, "bytes": None, "seconds": 0.5, "converter": {}, "calibration": None,
             "quantization": {"inputs": [], "outputs": []}, "requires_flex": False, "requires_state_reset": False,
             "io_names": None, "notes": [], "extra": {}},
        ],
    }


def fake_converted_folder(root, *, labels=None, artifacts=None, classes: int = 3, samples: int = 6):
    """A convert output folder built by hand (no TensorFlow): signature x[N,4] -> y[N,classes], golden data
    with sha256 entries, and ``artifacts`` (manifest dicts; default: one failed tflite artifact, so that
    validate runs nothing and still writes its report)."""
    import json
    from pathlib import Path

    import numpy as np

    from edgekit import manifest

    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(samples, 4)).astype(np.float32)
    y = rng.dirichlet(np.ones(classes), size=samples).astype(np.float32)
    np.savez(root / manifest.GOLDEN_INPUTS, x=x)
    np.savez(root / manifest.REFERENCE_OUTPUTS, y=y)
    golden = {"inputs": manifest.GOLDEN_INPUTS, "outputs": manifest.REFERENCE_OUTPUTS, "labels": None,
              "samples": samples, "source": "test", "random": False}
    if labels is not None:
        np.save(root / "golden_labels.npy", np.asarray(labels))
        golden["labels"] = "golden_labels.npy"
    golden["sha256"] = {f: manifest.sha256_file(root / f) for f in
                        (golden["inputs"], golden["outputs"], golden["labels"]) if f}
    if artifacts is None:
        artifacts = [{"id": "tflite-float32", "format": "tflite", "variant": "float32",
                      "path": "model_float32.tflite", "status": "failed", "reason": "not converted (test)"}]
    doc = {"schema": 1, "edgekit_version": "test", "created": None, "source": {"kind": "keras"},
           "signature": {"inputs": [{"name": "x", "shape": [None, 4], "dtype": "float32"}],
                         "outputs": [{"name": "y", "shape": [None, classes], "dtype": "float32"}]},
           "labels": None, "preprocessing": None, "golden": golden, "calibration": None, "warnings": [],
           "artifacts": artifacts}
    (root / manifest.MANIFEST_NAME).write_text(json.dumps(doc), encoding="utf-8")
    return root


def job_for(tmp_path, runtime: str, fmt: str, artifact_path, feeds: dict, outputs: list[str], **kw):
    """A Job for one runner test: ``feeds`` (signature name -> [N, ...] array) written to an npz next to it.
    ``kw``: Artifact fields (io_names, requires_state_reset, ...) and ``bench`` / ``threads`` / ``options``."""
    import numpy as np

    from edgekit.manifest import Artifact
    from edgekit.protocol import BenchSettings, Job

    job_kw = {k: kw.pop(k) for k in ("bench", "threads", "options") if k in kw}
    job_kw.setdefault("bench", BenchSettings(runs=3, warmup=1, min_time=0.0, max_time=5.0, warmup_min_time=0.0))
    np.savez(tmp_path / "feeds.npz", **feeds)
    art = Artifact(id=f"{fmt}-test", format=fmt, variant="float32", path=str(artifact_path), **kw)
    spec = [{"name": n, "shape": [None, *a.shape[1:]], "dtype": str(a.dtype)} for n, a in feeds.items()]
    return Job(runtime=runtime, artifact=art.to_dict(), artifact_path=str(artifact_path), inputs=spec,
               outputs=[{"name": n, "shape": [None], "dtype": "float32"} for n in outputs],
               feeds_path=str(tmp_path / "feeds.npz"), outputs_path=str(tmp_path / "outputs.npz"),
               result_path=str(tmp_path / "result.json"), **job_kw)


TFJS_SHARD = 4 << 20  # tensorflowjs_converter's default --weight_shard_size_bytes


def write_tfjs_shards(folder, raw: bytes, prefix: str = "group1") -> list[str]:
    """Cut ``raw`` into TF.js weight shards of the converter's default size; returns their file names."""
    count = -(-len(raw) // TFJS_SHARD)
    paths = [f"{prefix}-shard{k + 1}of{count}.bin" for k in range(count)]
    for k, name in enumerate(paths):
        (folder / name).write_bytes(raw[k * TFJS_SHARD:(k + 1) * TFJS_SHARD])
    return paths


def pad_tfjs_artifact(folder, shards: int = 7, edit=None) -> None:
    """Give a converted folder's TF.js model ``shards`` more 4 MiB weight shards (an unused zero weight),
    the shape of a 28 MB model such as DenseNet121; ``edit(model_json)`` may change it further. The
    artifact's new digest is recorded in manifest.json, so validate does not call it tampered."""
    import json

    from edgekit import manifest

    raw = json.loads((folder / "manifest.json").read_text())
    art = next(a for a in raw["artifacts"] if a["format"] == "tfjs")
    tfjs = folder / art["path"]
    model = json.loads((tfjs / "model.json").read_text())
    nbytes = shards * TFJS_SHARD - TFJS_SHARD // 2
    model["weightsManifest"].append({"paths": write_tfjs_shards(tfjs, bytes(nbytes), "pad"),
                                     "weights": [{"name": "pad", "shape": [nbytes // 4], "dtype": "float32"}]})
    if edit is not None:
        edit(model)
    (tfjs / "model.json").write_text(json.dumps(model))
    art["sha256"], art["bytes"] = manifest.sha256_path(tfjs), manifest.size_path(tfjs)
    (folder / "manifest.json").write_text(json.dumps(raw))


def help_in_fresh_python(commands: tuple[str, ...], modules: tuple[str, ...]) -> subprocess.CompletedProcess:
    """Run `edgekit CMD --help` for each command in a fresh interpreter; its stdout ends with a line
    ``HEAVY=`` listing which of ``modules`` got imported (empty: none)."""
    code = ("import sys; from edgekit.cli import main\n"
            f"for cmd in {list(commands)!r}:\n"
            "    try:\n        main([cmd, '--help'])\n    except SystemExit:\n        pass\n"
            f"mods = {tuple(modules)!r}\n"
            "print('HEAVY=' + ','.join(m for m in mods if m in sys.modules))")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "COLUMNS": "100"})


def read_junit(path):
    """A JUnit XML file edgekit wrote, checked against tests/data/junit.xsd (the format Jenkins and GitLab
    read) and parsed by junitparser: raises on any schema violation."""
    from pathlib import Path

    import xmlschema
    from junitparser import JUnitXml

    xmlschema.XMLSchema(Path(__file__).parent / "data" / "junit.xsd").validate(str(path))
    return JUnitXml.fromfile(str(path))


@functools.cache
def _report_validator():
    import json

    import jsonschema

    from edgekit.report import SCHEMA_FILE

    return jsonschema.Draft202012Validator(json.loads(SCHEMA_FILE.read_text(encoding="utf-8")))


def report_schema_errors(report) -> list[str]:
    """Where a report.json document breaks edgekit/data/report.schema.json (jsonschema, draft 2020-12)."""
    return [f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message[:200]}"
            for e in _report_validator().iter_errors(report)]


def written_reports_errors(root) -> dict[str, list[str]]:
    """Every report.json of `edgekit validate` under ``root`` checked against the schema: {path: errors}."""
    import json
    from pathlib import Path

    bad = {}
    for path in sorted(Path(root).rglob("report.json")):
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # a test's deliberately broken file, not one validate wrote
        if isinstance(doc, dict) and doc.get("tool") == "edgekit validate" and doc.get("schema") == 1:
            errors = report_schema_errors(doc)
            if errors:
                bad[str(path)] = errors[:5]
    return bad


def open_bundle_page(session, url: str, timeout_ms: int = 60_000):
    """A web bundle's index.html in ``session`` (a BrowserSession), once its page says ready or error:
    (page, page errors seen so far and later). Fails with the page's #error text unless it is ready."""
    page = session.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(session.server.url(url + "index.html"))
    page.wait_for_selector("body[data-state]", timeout=timeout_ms)
    assert page.eval_on_selector("body", "b => b.dataset.state") == "ready", page.text_content("#error")
    return page, errors
