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
from edgekit import manifest as mf
from edgekit.bundle import png
from edgekit.bundle.common import BundleOptions, Source, copy_file, output_meaning, top_margin
from edgekit.bundle.preprocess import Preprocessing, resolve
from edgekit.bundle.web_runtime import GROUPS, Choice, choose
from edgekit.errors import InputError, MissingDependency
from edgekit.schemas import dumps_json
from edgekit.web import vendor
from edgekit.web.browser import STATIC

APP_DIR = Path(__file__).resolve().parent / "web_app"
# A sample whose pixels had to move more than this (in 0..255 units) to become a PNG is not the golden
# input any more: it would prove nothing about the expected label.
MAX_PIXEL_ERROR = 0.5 + 1e-6
# What index.html loads for each engine: TF.js as UMD globals; LiteRT.js as an ES module whose helper
# package the import map points at the vendored copy.
SCRIPTS = {
    "tfjs": """<!-- Vendored UMD builds (they define the global `tf`, and `ort` when the ONNX engine is bundled). -->
<script src="vendor/tf-core.min.js"></script>
<script src="vendor/tf-backend-cpu.min.js"></script>
<script src="vendor/tf-converter.min.js"></script>
<script src="vendor/tf-backend-wasm.min.js"></script>""",
    "litert": """<!-- LiteRT.js (vendor/index.js) imports its helper package by name: mapped to the vendored copy. -->
<script type="importmap">{"imports": {"@litertjs/wasm-utils": "./vendor/bundle.js"}}</script>""",
}


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


def _engine_files(src: Source, out: Path, choice: Choice, onnx: mf.Artifact | None) -> tuple[str, ...]:
    """Copy the chosen model (and the ONNX one) and their vendored libraries; returns the vendor groups."""
    art = choice.artifact
    path = src.artifact_path(art)
    if choice.runtime == "tfjs":
        for f in sorted(p for p in path.rglob("*") if p.is_file()):
            copy_file(f, out / "model" / f.relative_to(path))
    else:
        copy_file(path, out / "model.tflite")
        copy_file(STATIC / "litert_run.js", out / "litert_run.js")
    groups = GROUPS[choice.runtime] + (("ort",) if onnx else ())
    gone = vendor.missing(*groups)
    if gone:
        raise MissingDependency("the vendored JavaScript libraries",
                                f"{', '.join(gone[:2])} missing: run `edgekit setup` (`make setup-js` in a checkout)")
    if onnx is not None:
        copy_file(src.artifact_path(onnx), out / "model.onnx")
    for fname, vpath in vendor.files(*groups).items():
        copy_file(vpath, out / "vendor" / fname)
    head = SCRIPTS[choice.runtime]
    html = (APP_DIR / "index.html").read_text(encoding="utf-8").replace("<!-- edgekit:engine -->", head)
    (out / "index.html").write_text(html, encoding="utf-8")
    copy_file(APP_DIR / "app.js", out / "app.js")
    copy_file(APP_DIR / "common.js", out / "common.js")
    return groups


def _tensor_config(art: mf.Artifact | None, key: str, side: str, k: int, name: str) -> dict[str, Any]:
    """``{KEY_name: the artifact's tensor name}`` (+ quantization for the LiteRT.js model)."""
    if art is None:  # app.json always named the ONNX tensors (the tensor names of the signature)
        return {f"{key}_name": name} if key == "onnx" else {}
    io = art.io_names or {}
    out: dict[str, Any] = {f"{key}_name": (io.get(side) or [name])[k]}
    if key == "litert":
        q = {x.name: x for x in art.quantization.get(side, [])}.get(name)
        out["quantization"] = {"dtype": q.dtype, "scale": q.scale, "zero_point": q.zero_point} if q else None
    return out


def build_web(src: Source, out: Path, opts: BundleOptions) -> tuple[list[str], dict[str, Any]]:
    from edgekit.bundle.text import build_web_text, text_record

    if text_record(src) is not None:  # a split text model: the text page (edgekit/bundle/text.py)
        return build_web_text(src, out, opts)
    m = src.manifest
    name, h, w, c = _image_input(src)
    choice = choose(src, opts.runtime, opts.artifacts)
    onnx = None
    if opts.onnx:
        onnx = next((a for a in m.artifacts if a.format == "onnx"), None)
        if onnx is None:
            raise InputError(f"--onnx: no onnx artifact in {src.folder}: convert with --formats onnx (or all)")
    prep = resolve(m.preprocessing, c)
    inputs, reference = src.golden()
    out_spec = m.outputs[0]
    ref = reference[out_spec.name]
    index, pixels = pick_sample(inputs[name], ref, prep)
    expected = int(np.argmax(ref[index]))
    labels = src.labels
    groups = _engine_files(src, out, choice, onnx)
    png.write(out / "sample.png", pixels)

    key = choice.runtime
    config = {
        "generated_by": f"edgekit {__version__} bundle --target web",
        "engine": key,
        "input": {"name": name, **_tensor_config(choice.artifact, key, "inputs", 0, name),
                  **_tensor_config(onnx, "onnx", "inputs", 0, name), "shape": [1, h, w, c]},
        "output": {"name": out_spec.name, **_tensor_config(choice.artifact, key, "outputs", 0, out_spec.name),
                   **_tensor_config(onnx, "onnx", "outputs", 0, out_spec.name), "classes": int(out_spec.shape[1]),
                   "meaning": output_meaning(out_spec, ref, labels)},
        "labels": labels,
        "preprocessing": prep.to_dict(),
        "models": {key: "model/model.json" if key == "tfjs" else "model.tflite",
                   **({"onnx": "model.onnx"} if onnx else {})},
        "artifact": choice.artifact.id,
        "why": choice.why,
        "downloads": choice.sizes,
        "sample": {"file": "sample.png", "golden_index": index, "expected_index": expected,
                   "expected_label": labels[expected] if labels else f"class {expected}",
                   "reference_scores": [float(v) for v in ref[index]]},
        "vendor_versions": vendor.versions(*groups),
    }
    (out / "app.json").write_text(dumps_json(config, indent=1) + "\n", encoding="utf-8")
    (out / "README.md").write_text(_readme(src, config, prep, onnx is not None), encoding="utf-8")
    notes = [f"sample.png is golden input #{index}; the source model says {config['sample']['expected_label']}",
             f"engine: {choice.why}"]
    if prep.ignored:
        notes.append(f"preprocessing keys not applied by the app: {', '.join(prep.ignored)}")
    return notes, {"sample": config["sample"], "runtime": key, "artifact": choice.artifact.id, "why": choice.why}


def _readme(src: Source, cfg: dict[str, Any], prep: Preprocessing, with_onnx: bool) -> str:
    h, w, c = cfg["input"]["shape"][1:]
    versions = ", ".join(f"{k} {v}" for k, v in cfg["vendor_versions"].items())
    ignored = (f"\nRecorded but not applied by the app (do it yourself before calling `classify`): "
               f"{', '.join(prep.ignored)} (the full record is in the manifest).\n") if prep.ignored else ""
    onnx = ("- `model.onnx` and onnxruntime-web (`vendor/ort.wasm.min.js` and its wasm): pick \"ONNX\" in the "
            "page's engine menu.\n") if with_onnx else ""
    litert = cfg["engine"] == "litert"
    engine = ("LiteRT.js (@litertjs/core, the .tflite on its wasm/XNNPACK accelerator)" if litert else
              "TF.js (wasm backend, cpu as fallback)")
    model = (f"- `model.tflite`: the `{cfg['artifact']}` artifact edgekit validated, run by `litert_run.js` (also what "
             "`edgekit validate --device browser` ran it with); `vendor/` holds LiteRT.js's relaxed-SIMD build "
             "(`litert_wasm_internal.*`, what Chromium loads) and its `compat` build for browsers without relaxed "
             "SIMD.\n" if litert else
             "- `model/`: the TF.js graph model (`model.json` + weight shards) edgekit validated.\n")
    sizes = "".join(f"- {'LiteRT.js' if rt == 'litert' else 'TF.js'}: {s['artifact']} {s['model']:,} bytes + runtime "
                    f"{s['runtime']:,} bytes = {s['total']:,} bytes\n" for rt, s in cfg["downloads"].items())
    return f"""# Web bundle: {src.manifest.source.get('path', 'model')}

A static web app generated by `edgekit bundle --target web`. It runs the model in the browser with
{engine}, classifies a picture you pick or drop, and shows the top labels with
their scores. On load it classifies `sample.png` and shows the result in the element `#prediction`.
Everything it needs is in this folder: it works offline.

## Why this engine

{cfg['why']}.

What the page downloads on Chromium (model + runtime):

{sizes}

## Run it

Browsers do not load wasm or models from `file://` URLs: serve the folder over HTTP, e.g.

    python3 -m http.server --directory . 8000    # then open http://localhost:8000/

## What is here

- `index.html`, `app.js` (ES module, no build step; `common.js` holds what it shares with the text page), `app.json`
  (tensor names, shape, labels, preprocessing).
{model}{onnx}- `vendor/`: {versions}, copied from edgekit's pinned npm install.
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
