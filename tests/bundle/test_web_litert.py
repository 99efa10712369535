"""`edgekit bundle --target web --runtime litert|tfjs` (issue 13): the .tflite in LiteRT.js, the same page
contract as the TF.js bundle, and a default engine chosen from validation and download size."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from edgekit.bundle import BundleOptions, bundle, load_source, web_runtime
from edgekit.errors import InputError
from edgekit.web import browser
from tests.helpers import require

LABELS = ["top-left", "top-right", "bottom-left", "bottom-right"]  # tests.models.quadrant_images' classes


@pytest.fixture(scope="module")
def folder(converted_cnn, tmp_path_factory) -> Path:
    """A copy of the converted CNN this module may give a validation report."""
    out = tmp_path_factory.mktemp("web-litert") / "cnn"
    shutil.copytree(converted_cnn.out, out, ignore=shutil.ignore_patterns("report"))
    (out.parent / "labels.txt").write_text("\n".join(LABELS) + "\n")
    return out


def _report(folder: Path, statuses: dict[tuple[str, str], str]) -> None:
    (folder / "report").mkdir(exist_ok=True)
    rows = [{"artifact": a, "runtime": rt, "status": st} for (a, rt), st in statuses.items()]
    (folder / "report" / "report.json").write_text(json.dumps({"results": rows}))


def test_litert_bundle_page_shows_expected_label(folder: Path, tmp_path: Path) -> None:
    require(browser.unavailable_reason("litert") is None, browser.unavailable_reason("litert") or "")
    res = bundle(folder, tmp_path / "web", BundleOptions(target="web", runtime="litert", artifacts=["tflite-int8"],
                                                         labels=folder.parent / "labels.txt"))
    out = res.out
    cfg = json.loads((out / "app.json").read_text())
    assert cfg["engine"] == "litert" and cfg["artifact"] == "tflite-int8" and cfg["models"]["litert"] == "model.tflite"
    assert cfg["input"]["quantization"]["dtype"] == "int8" and cfg["output"]["quantization"]["scale"] > 0
    assert (out / "vendor" / "litert_wasm_internal.wasm").is_file() and not (out / "vendor" / "tf-core.min.js").exists()
    assert (out / "litert_run.js").read_bytes() == (browser.STATIC / "litert_run.js").read_bytes()
    expected = res.facts["sample"]["expected_label"]
    with browser.BrowserSession(isolated=False) as s, s.mounted(out) as url:  # a plain `python -m http.server`
        page = s.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(s.server.url(url + "index.html"))
        page.wait_for_selector("body[data-state]", timeout=30_000)
        assert page.eval_on_selector("body", "b => b.dataset.state") == "ready", page.text_content("#error")
        assert page.get_attribute("#prediction", "data-label") == expected
        assert page.text_content("#backend") == "LiteRT.js (wasm)"
        rows = page.eval_on_selector_all("#scores tr", "trs => trs.map(t => [...t.cells].map(c => c.textContent))")
        assert len(rows) == 4 and rows[0][0] == expected
        scores = [float(r[1]) for r in rows]
        assert scores == sorted(scores, reverse=True) and abs(sum(scores) - 1) < 0.02  # dequantized softmax
        # int8 in, int8 out, dequantized: the source model's score within a few quantization steps.
        assert abs(scores[0] - max(res.facts["sample"]["reference_scores"])) < 0.03
        assert errors == [] and s.blocked == []  # offline: nothing outside the bundle was fetched


def test_default_engine_is_the_validated_one_with_the_smaller_download(folder: Path, monkeypatch) -> None:
    src = load_source(folder, None)
    shutil.rmtree(folder / "report", ignore_errors=True)  # not validated: TF.js, as before validation decided
    c = web_runtime.choose(src, None, None)
    assert c.runtime == "tfjs" and "not validated" in c.why and c.sizes["litert"]["artifact"] == "tflite-float32"
    _report(folder, {("tfjs", "tfjs-browser-wasm"): "pass", ("tflite-int8", "litert-web-wasm"): "pass",
                     ("tflite-float32", "litert-web-wasm"): "pass"})
    c = web_runtime.choose(src, None, None)
    # Measured: TF.js 1.32 MB of runtime vs LiteRT.js 9.70 MB (its relaxed-SIMD wasm alone is 9.37 MB).
    assert c.runtime == "tfjs" and c.sizes["litert"]["artifact"] == "tflite-int8"
    assert c.sizes["litert"]["runtime"] > 5 * c.sizes["tfjs"]["runtime"]
    assert "passed validation" in c.why and "TF.js 1.3" in c.why and "LiteRT.js 9." in c.why
    # The TF.js artifact failed in the browser: LiteRT.js, int8 because it passed.
    _report(folder, {("tfjs", "tfjs-browser-wasm"): "error", ("tflite-int8", "litert-web-wasm"): "pass"})
    c = web_runtime.choose(src, None, None)
    assert c.runtime == "litert" and c.artifact.id == "tflite-int8" and "(did not pass)" in c.why
    # int8 failed (or was never run): float32.
    _report(folder, {("tfjs", "tfjs-browser-wasm"): "error", ("tflite-int8", "litert-web-wasm"): "fail",
                     ("tflite-float32", "litert"): "pass"})
    assert web_runtime.choose(src, None, None).artifact.id == "tflite-float32"
    # A big model would flip it: the smaller download wins whichever engine it is.
    _report(folder, {("tfjs", "tfjs-browser-wasm"): "pass", ("tflite-int8", "litert-web-wasm"): "pass"})
    real = web_runtime.download
    monkeypatch.setattr(web_runtime, "download", lambda s, rt, a: {**real(s, rt, a), "total": 1 if rt == "litert"
                                                                   else 2})
    assert web_runtime.choose(src, None, None).runtime == "litert"
    with pytest.raises(InputError, match="--runtime must be one of tfjs, litert"):
        web_runtime.choose(src, "onnx", None)
    with pytest.raises(InputError, match="one produced TFLite artifact id"):
        web_runtime.choose(src, "litert", ["tfjs"])


def test_bundle_readme_says_which_engine_and_why_with_both_sizes(folder: Path, tmp_path: Path) -> None:
    _report(folder, {("tfjs", "tfjs-browser-wasm"): "pass", ("tflite-int8", "litert-web-wasm"): "pass"})
    res = bundle(folder, tmp_path / "web", BundleOptions(target="web"))
    readme = (res.out / "README.md").read_text()
    assert res.facts["runtime"] == "tfjs" and (res.out / "model" / "model.json").is_file()
    assert "## Why this engine" in readme and "smallest download" in readme
    assert "- TF.js: tfjs " in readme and "- LiteRT.js: tflite-int8 " in readme
    assert any(n.startswith("engine: TF.js: the smallest download") for n in res.notes)
