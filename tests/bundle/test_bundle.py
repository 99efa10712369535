"""`edgekit bundle`: the web app classifies its sample in headless Chromium; android/ios bundles carry the
manifest's exact quantization numbers into the model card and the generated Kotlin / Swift."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from edgekit import manifest
from edgekit.bundle import BundleOptions, bundle, png
from edgekit.cli import app
from edgekit.protocol import load_npz
from edgekit.web import browser
from tests.helpers import pad_tfjs_artifact, require

LABELS = ["top-left", "top-right", "bottom-left", "bottom-right"]  # tests.models.quadrant_images' classes


@pytest.fixture(scope="module")
def labels_file(tmp_path_factory) -> Path:
    p = tmp_path_factory.mktemp("labels") / "labels.txt"
    p.write_text("\n".join(LABELS) + "\n")
    return p


@pytest.fixture(scope="module")
def web_bundle(converted_cnn, labels_file, tmp_path_factory):
    out = tmp_path_factory.mktemp("bundles") / "web"
    return bundle(converted_cnn.out, out, BundleOptions(target="web", labels=labels_file, onnx=True))


def test_web_bundle_contents_and_sample(web_bundle, converted_cnn) -> None:
    out = web_bundle.out
    for f in ("index.html", "app.js", "app.json", "README.md", "sample.png", "model/model.json", "model.onnx",
              "vendor/tf-core.min.js", "vendor/tfjs-backend-wasm-simd.wasm", "vendor/ort.wasm.min.js",
              "vendor/ort-wasm-simd-threaded.wasm"):
        assert (out / f).is_file(), f
    cfg = json.loads((out / "app.json").read_text())
    ref = load_npz(converted_cnn.out / "reference_outputs.npz")["output_0"]
    golden = load_npz(converted_cnn.out / "golden_inputs.npz")["image"]
    i = cfg["sample"]["golden_index"]
    assert cfg["sample"]["expected_index"] == int(ref[i].argmax())
    assert cfg["sample"]["expected_label"] == LABELS[int(ref[i].argmax())]
    # The sample is the golden input itself, to 8-bit rounding (raw 0..255 pixels, default preprocessing).
    pixels = png.decode((out / "sample.png").read_bytes())
    assert pixels.shape == (16, 16, 3) and np.abs(pixels - golden[i]).max() <= 0.5 + 1e-4
    # ... and the most decisive one: rounding cannot flip its label.
    margins = np.sort(ref, 1)[:, -1] - np.sort(ref, 1)[:, -2]
    assert margins[i] == margins.max() and margins[i] > 0.1
    assert "no CDN" not in (out / "index.html").read_text() and "http" not in (out / "index.html").read_text()


@pytest.mark.parametrize("engine", ["tfjs", "onnx"])
def test_web_bundle_page_shows_expected_label(web_bundle, engine: str) -> None:
    reason = browser.unavailable_reason("tfjs", "tfjs-wasm", "ort")
    require(reason is None, reason or "")
    expected = web_bundle.facts["sample"]["expected_label"]
    # A plain static server (no isolation headers), as a user's `python -m http.server` would be.
    with browser.BrowserSession(isolated=False) as s, s.mounted(web_bundle.out) as url:
        page = s.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(s.server.url(url + "index.html"))
        page.wait_for_selector("body[data-state]", timeout=30_000)
        if engine == "onnx":
            page.select_option("#engine", "onnx")
            page.wait_for_function("() => document.getElementById('backend').textContent.includes('onnxruntime')",
                                   timeout=30_000)
            page.wait_for_function("() => !document.getElementById('prediction').textContent.startsWith('.')")
        assert page.eval_on_selector("body", "b => b.dataset.state") == "ready", page.text_content("#error")
        assert page.get_attribute("#prediction", "data-label") == expected
        assert page.text_content("#prediction").startswith(expected)
        rows = page.eval_on_selector_all("#scores tr", "trs => trs.map(t => [...t.cells].map(c => c.textContent))")
        assert len(rows) == 4 and rows[0][0] == expected
        scores = [float(r[1]) for r in rows]
        assert scores == sorted(scores, reverse=True) and abs(sum(scores) - 1) < 1e-3  # softmax
        # The shown score is the source model's, within 8-bit input rounding.
        assert abs(scores[0] - max(web_bundle.facts["sample"]["reference_scores"])) < 0.02
        assert errors == [] and s.blocked == []  # offline: nothing outside the bundle was fetched


def test_web_bundle_of_a_28_mb_model_loads_over_http_1(converted_cnn, labels_file, tmp_path: Path) -> None:
    """Issue 10 #20 seen from the app: seven 4 MiB weight shards (DenseNet121's 28 MB) deadlocked
    tf.loadGraphModel over HTTP/1.1 (six connections per host, no body read until all had answered)."""
    reason = browser.unavailable_reason("tfjs", "tfjs-wasm")
    require(reason is None, reason or "")
    folder = tmp_path / "converted"
    shutil.copytree(converted_cnn.out, folder)
    pad_tfjs_artifact(folder)
    web = bundle(folder, tmp_path / "web", BundleOptions(target="web", labels=labels_file))
    assert len(list((web.out / "model").glob("pad-shard*of7.bin"))) == 7
    with browser.BrowserSession(isolated=False) as s, s.mounted(web.out) as url:
        page = s.new_page()
        page.goto(s.server.url(url + "index.html"))
        page.wait_for_selector("body[data-state]", timeout=60_000)
        assert page.eval_on_selector("body", "b => b.dataset.state") == "ready", page.text_content("#error")
        assert page.get_attribute("#prediction", "data-label") == web.facts["sample"]["expected_label"]


@pytest.mark.parametrize("target,lang,ext", [("android", "kotlin", "kt"), ("ios", "swift", "swift")])
def test_mobile_bundle_card_matches_manifest(converted_cnn, labels_file, tmp_path: Path, target, lang, ext) -> None:
    res = bundle(converted_cnn.out, tmp_path / target, BundleOptions(target=target, labels=labels_file))
    out = res.out
    m = manifest.load(converted_cnn.out)
    card = json.loads((out / "model_card.json").read_text())
    tflite = [a for a in m.artifacts if a.format == "tflite" and a.ok]
    assert [e["id"] for e in card["models"]] == [a.id for a in tflite]
    assert card["labels"] == LABELS and (out / "labels.txt").read_text().split() == LABELS
    assert card["metadata"]["embedded_in_tflite"] is False and "protobuf" in card["metadata"]["reason"]
    assert "probabilities" in card["outputs_meaning"]["output_0"]
    for art, entry in zip(tflite, card["models"], strict=True):
        assert (out / entry["file"]).read_bytes() == (converted_cnn.out / art.path).read_bytes()
        assert entry["inputs"][0]["shape"] == [1, 16, 16, 3] and entry["outputs"][0]["shape"] == [1, 4]
        q_in = {q.name: q for q in art.quantization["inputs"]}
        q_out = {q.name: q for q in art.quantization["outputs"]}
        for side, qs in (("inputs", q_in), ("outputs", q_out)):
            for t in entry[side]:
                q = qs.get(t["name"])
                if q is None:
                    assert t["quantization"] is None and t["dtype"] == "float32"
                else:  # exactly the manifest's numbers
                    assert t["quantization"] == {"scale": q.scale, "zero_point": q.zero_point} and t["dtype"] == q.dtype
        code = (out / lang / f"Classifier{art.variant.capitalize()}.{ext}").read_text()
        assert "1, 16, 16, 3" in code and "768" in code and ("[1, 4]" in code or "(1, 4)" in code)
        for q in [*q_in.values(), *q_out.values()]:
            assert repr(q.scale) in code and str(q.zero_point) in code
        if q_in:
            assert ("roundToInt" in code) if lang == "kotlin" else ("clamping" in code)  # quantize
            assert "OUTPUT_SCALE *" in code or "Self.outputScale *" in code  # dequantize
        assert "top-left" in code
    int8 = next(e for e in card["models"] if e["id"] == "tflite-int8")
    assert int8["inputs"][0]["dtype"] == "int8" and int8["inputs"][0]["quantization"]["scale"] > 0
    assert (out / "README.md").read_text().count("model_card.json") >= 1


def _cli(args: list[str]) -> tuple[int, str]:
    res = CliRunner().invoke(app, ["bundle", *args])
    return res.exit_code, res.output


def test_bad_input_is_one_line_exit_2_and_nothing_half_written(converted_cnn, fresh_copy, tmp_path: Path) -> None:
    src = converted_cnn.out
    code, out = _cli([str(tmp_path / "nope"), "--target", "web", "--out", str(tmp_path / "b1")])
    assert code == 2 and "does not exist" in out and len(out.strip().splitlines()) == 1
    code, out = _cli([str(src), "--target", "windows", "--out", str(tmp_path / "b2")])
    assert code == 2 and "--target must be one of web, android, ios" in out
    # A non-empty --out without --force is refused, and left as it was.
    (tmp_path / "b3").mkdir()
    (tmp_path / "b3" / "keep.txt").write_text("mine")
    code, out = _cli([str(src), "--target", "android", "--out", str(tmp_path / "b3")])
    assert code == 2 and "--force" in out and (tmp_path / "b3" / "keep.txt").read_text() == "mine"
    # A failed artifact, and one modified after conversion.
    d = fresh_copy(src)
    m = manifest.load(d)
    m.artifact("tflite-int8").status = "failed"
    m.artifact("tflite-int8").reason = "converter crashed"
    manifest.save(m, d)
    code, out = _cli([str(d), "--target", "ios", "-a", "tflite-int8", "--out", str(tmp_path / "b4")])
    assert code == 2 and "failed to convert" in out
    (d / m.artifact("tflite-float32").path).write_bytes(b"TFL3 tampered")
    code, out = _cli([str(d), "--target", "android", "-a", "tflite-float32", "--out", str(tmp_path / "b5")])
    assert code == 2 and "sha256" in out
    code, out = _cli([str(d), "--target", "android", "-a", "onnx", "--out", str(tmp_path / "b6")])
    assert code == 2 and "TFLite" in out
    # Nothing was left behind: no bundle folders, no temporary siblings.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b3", src.name]
    # --force replaces the folder atomically with a complete bundle.
    code, out = _cli([str(src), "--target", "android", "--out", str(tmp_path / "b3"), "--force"])
    assert code == 0, out
    assert not (tmp_path / "b3" / "keep.txt").exists() and (tmp_path / "b3" / "model_card.json").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b3", src.name]


def test_png_roundtrip_and_labels_count_checked(converted_cnn, tmp_path: Path) -> None:
    a = (np.arange(5 * 7 * 3) % 256).astype(np.uint8).reshape(5, 7, 3)
    assert (png.decode(png.encode(a)) == a).all()
    assert (png.decode(png.encode(a[:, :, 0])) == a[:, :, :1]).all()
    bad = tmp_path / "labels.txt"
    bad.write_text("a\nb\n")
    code, out = _cli([str(converted_cnn.out), "--target", "web", "--labels", str(bad), "--out", str(tmp_path / "w")])
    assert code == 2 and "2 labels for an output of 4 classes" in out


def test_stale_staging_of_a_killed_bundle_is_removed_and_reported(converted_cnn, tmp_path: Path) -> None:
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()  # a process id that no longer runs: what a SIGKILLed bundle leaves in its staging name
    stale = tmp_path / f".b.edgekit-tmp-{proc.pid}-0badc0de"
    stale.mkdir()
    (stale / "half.tflite").write_bytes(b"x")
    code, out = _cli([str(converted_cnn.out), "--target", "android", "--out", str(tmp_path / "b")])
    assert code == 0, out
    assert f"removed {stale.name}" in out and f"(process {proc.pid})" in out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b"]
