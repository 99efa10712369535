"""The web target: a static app that classifies pictures with the TF.js model, offline.

Layout of the bundle: ``index.html``, ``app.js`` (an ES module), ``app.json`` (what app.js needs to know:
tensor names and shape, preprocessing, labels, the sample), ``model/`` (the TF.js files), ``vendor/``
(tfjs and, with ``--onnx``, onnxruntime-web, copied from edgekit's npm install), ``sample.png`` and, with
``--onnx``, ``model.onnx``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from edgekit import __version__
from edgekit.bundle import png
from edgekit.bundle.common import BundleOptions, Source, copy_file, output_meaning, top_margin
from edgekit.bundle.preprocess import Preprocessing, resolve
from edgekit.errors import InputError, MissingDependency
from edgekit.schemas import dumps_json
from edgekit.web import vendor

APP_DIR = Path(__file__).resolve().parent / "web_app"
# A sample whose pixels had to move more than this (in 0..255 units) to become a PNG is not the golden
# input any more: it would prove nothing about the expected label.
MAX_PIXEL_ERROR = 0.5 + 1e-6


def _image_input(src: Source) -> tuple[str, int, int, int]:
    m = src.manifest
    if len(m.inputs) != 1 or len(m.inputs[0].shape) != 4 or m.inputs[0].shape[3] not in (1, 3):
        got = ", ".join(f"{s.name} {s.shape}" for s in m.inputs)
        raise InputError(f"the web app classifies pictures: it needs one image input [batch, height, width, 1 or "
                         f"3]; this model takes {got}")
    _, h, w, c = m.inputs[0].shape
    if not h or not w or h < 1 or w < 1:
        raise InputError(f"image input {m.inputs[0].name} has no fixed size {m.inputs[0].shape}; re-convert "
                         "with --input-shape")
    if len(m.outputs) < 1 or len(m.outputs[0].shape) != 2:
        raise InputError(f"the web app shows class scores: the first output must be [batch, classes]; got "
                         f"{[s.shape for s in m.outputs]}")
    return m.inputs[0].name, int(h), int(w), int(c)


def pick_sample(inputs: np.ndarray, reference: np.ndarray, prep: Preprocessing) -> tuple[int, np.ndarray]:
    """The golden sample the app shows on load: the one the source model decided most clearly among
    those that survive the trip to 8-bit pixels (so rounding cannot flip the expected label)."""
    order = np.argsort(-top_margin(reference), kind="stable")
    for i in order:
        pixels, err = prep.to_pixels(inputs[i])
        if err <= MAX_PIXEL_ERROR:
            return int(i), pixels
    raise InputError("no golden input maps back to 8-bit pixels with the recorded preprocessing (values outside "
                     "0..255 after undoing scale/mean/std): record the preprocessing the model really expects "
                     "(see docs/bundles.md)")


def build_web(src: Source, out: Path, opts: BundleOptions) -> tuple[list[str], dict[str, Any]]:
    m = src.manifest
    name, h, w, c = _image_input(src)
    tfjs = next((a for a in m.artifacts if a.format == "tfjs"), None)
    if tfjs is None:
        raise InputError(f"no tfjs artifact in {src.folder}: convert with --formats tfjs (or all)")
    tfjs_dir = src.artifact_path(tfjs)
    onnx = None
    if opts.onnx:
        onnx = next((a for a in m.artifacts if a.format == "onnx"), None)
        if onnx is None:
            raise InputError(f"--onnx: no onnx artifact in {src.folder}: convert with --formats onnx (or all)")
    onnx_path = src.artifact_path(onnx) if onnx is not None else None
    groups = ("tfjs", "tfjs-wasm") + (("ort",) if onnx else ())
    gone = vendor.missing(*groups)
    if gone:
        raise MissingDependency("the vendored JavaScript libraries",
                                f"{', '.join(gone[:2])} missing: run `edgekit setup` (`make setup-js` in a checkout)")

    prep = resolve(m.preprocessing, c)
    inputs, reference = src.golden()
    out_spec = m.outputs[0]
    ref = reference[out_spec.name]
    index, pixels = pick_sample(inputs[name], ref, prep)
    expected = int(np.argmax(ref[index]))
    labels = src.labels

    for f in sorted(p for p in tfjs_dir.rglob("*") if p.is_file()):
        copy_file(f, out / "model" / f.relative_to(tfjs_dir))
    if onnx_path is not None:
        copy_file(onnx_path, out / "model.onnx")
    for fname, path in vendor.files(*groups).items():
        copy_file(path, out / "vendor" / fname)
    png.write(out / "sample.png", pixels)
    for f in ("app.js", "index.html"):
        copy_file(APP_DIR / f, out / f)

    io = tfjs.io_names or {}
    onnx_io = (onnx.io_names or {}) if onnx else {}
    config = {
        "generated_by": f"edgekit {__version__} bundle --target web",
        "input": {"name": name, "tfjs_name": (io.get("inputs") or [name])[0],
                  "onnx_name": (onnx_io.get("inputs") or [name])[0], "shape": [1, h, w, c]},
        "output": {"name": out_spec.name, "tfjs_name": (io.get("outputs") or [out_spec.name])[0],
                   "onnx_name": (onnx_io.get("outputs") or [out_spec.name])[0], "classes": int(out_spec.shape[1]),
                   "meaning": output_meaning(out_spec, ref, labels)},
        "labels": labels,
        "preprocessing": prep.to_dict(),
        "models": {"tfjs": "model/model.json", **({"onnx": "model.onnx"} if onnx else {})},
        "sample": {"file": "sample.png", "golden_index": index, "expected_index": expected,
                   "expected_label": labels[expected] if labels else f"class {expected}",
                   "reference_scores": [float(v) for v in ref[index]]},
        "vendor_versions": vendor.versions(*groups),
    }
    (out / "app.json").write_text(dumps_json(config, indent=1) + "\n", encoding="utf-8")
    (out / "README.md").write_text(_readme(src, config, prep, onnx is not None), encoding="utf-8")
    notes = [f"sample.png is golden input #{index}; the source model says {config['sample']['expected_label']}"]
    if prep.ignored:
        notes.append(f"preprocessing keys not applied by the app: {', '.join(prep.ignored)}")
    return notes, {"sample": config["sample"]}


def _readme(src: Source, cfg: dict[str, Any], prep: Preprocessing, with_onnx: bool) -> str:
    h, w, c = cfg["input"]["shape"][1:]
    versions = ", ".join(f"{k} {v}" for k, v in cfg["vendor_versions"].items())
    ignored = (f"\nRecorded but not applied by the app (do it yourself before calling `classify`): "
               f"{', '.join(prep.ignored)} (the full record is in the manifest).\n") if prep.ignored else ""
    onnx = ("- `model.onnx` and onnxruntime-web (`vendor/ort.wasm.min.js` and its wasm): pick \"ONNX\" in the "
            "page's engine menu.\n") if with_onnx else ""
    return f"""# Web bundle: {src.manifest.source.get('path', 'model')}

A static web app generated by `edgekit bundle --target web`. It runs the TF.js model in the browser
(wasm backend, cpu as fallback), classifies a picture you pick or drop, and shows the top labels with
their scores. On load it classifies `sample.png` and shows the result in the element `#prediction`.
Everything it needs is in this folder: it works offline.

## Run it

Browsers do not load wasm or models from `file://` URLs: serve the folder over HTTP, e.g.

    python3 -m http.server --directory . 8000    # then open http://localhost:8000/

## What is here

- `index.html`, `app.js` (ES module, no build step), `app.json` (tensor names, shape, labels, preprocessing).
- `model/`: the TF.js graph model (`model.json` + weight shards) edgekit validated.
{onnx}- `vendor/`: {versions}, copied from edgekit's pinned npm install.
- `sample.png`: golden input #{cfg['sample']['golden_index']}; the source model says
  **{cfg['sample']['expected_label']}**.

## Input and output

- Input `{cfg['input']['name']}`: one {h}x{w} picture, {c} channel(s) ({prep.color}), resized by `{prep.resize}`,
  then `{prep.formula()}`.
{ignored}- Output `{cfg['output']['name']}`: {cfg['output']['meaning']}.

In your own code: `import {{ loadClassifier }} from './app.js'`, then
`const c = await loadClassifier(); const top = await c.classify(imageElement);` (`top` is
`[{{index, label, score}}, ...]`, best first).
"""
