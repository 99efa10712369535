"""Bundles of a split text model (``edgekit convert`` wrote ``tokenizer.json`` and numeric artifacts that take
token ids; the manifest's ``text`` record says so, docs/text.md).

Every target ships ``tokenizer.json`` and ``tokenizer_test_vectors.json`` (the golden strings and the ids the
Keras layer produced for them). The web target adds the JavaScript tokenizer and a page with a text box
(:func:`build_web_text`); android/ios add Kotlin/Swift tokenizers and a unit test that replays the test vectors
(``edgekit.bundle.text_mobile``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from edgekit import __version__
from edgekit import manifest as mf
from edgekit.bundle.common import BundleOptions, Source, copy_file, output_meaning, top_margin
from edgekit.bundle.web_runtime import GROUPS, choose
from edgekit.errors import InputError, MissingDependency
from edgekit.schemas import dumps_json
from edgekit.web import vendor
from edgekit.web.browser import STATIC

APP_DIR = Path(__file__).resolve().parent / "web_app"
TOKENIZER = "tokenizer.json"
TEST_VECTORS = "tokenizer_test_vectors.json"


def text_record(src: Source) -> dict[str, Any] | None:
    """The manifest's ``text`` record of a split model, or None (not a text model, or kept whole by flex)."""
    rec = getattr(src.manifest, "text", None)
    return rec if isinstance(rec, dict) and rec.get("mode") == "split" else None


def _checked_file(src: Source, rec: dict[str, Any], key: str) -> Path:
    """A file the text record names, inside the folder and unchanged since convert."""
    rel = rec.get(key)
    if not rel:
        raise InputError(f"{src.folder}: the manifest's text record names no {key}; convert the model again")
    path = (src.folder / rel).resolve()
    if src.folder.resolve() not in path.parents or not path.is_file():
        raise InputError(f"{src.folder}: the manifest's text {key} {rel!r} is not a file inside the folder; "
                         "convert the model again")
    want = (rec.get("sha256") or {}).get(rel)
    if want and mf.sha256_file(path) != want:
        raise InputError(f"{path} was modified after convert (sha256 differs from the manifest); convert again")
    return path


def copy_tokenizer(src: Source, out: Path) -> tuple[Path, Path]:
    """tokenizer.json and the test vectors into ``out``; returns the source paths (spec, vectors)."""
    rec = text_record(src)
    if rec is None:
        raise InputError(f"{src.folder} holds no split text model")
    spec, vectors = _checked_file(src, rec, "tokenizer"), _checked_file(src, rec, "test_vectors")
    copy_file(spec, out / TOKENIZER)
    copy_file(vectors, out / TEST_VECTORS)
    return spec, vectors


def golden_strings(src: Source) -> np.ndarray:
    """The raw golden inputs, one per sample (strings, or ints for integer_lookup)."""
    rec = text_record(src) or {}
    path = _checked_file(src, rec, "golden_strings")
    with np.load(path, allow_pickle=False) as z:
        names = list(z.files)
        wanted = [t.get("name") for t in rec.get("inputs") or []]
        key = next((n for n in wanted if n in names), names[0] if names else None)
        if key is None:
            raise InputError(f"{path} holds no golden inputs")
        raw = np.asarray(z[key])
    return raw.reshape(len(raw), -1)[:, 0] if raw.ndim > 1 else raw


def expected_index(scores: np.ndarray) -> int:
    """The label a reference output row means: argmax, or for one sigmoid output 1 when it is above 0.5."""
    return int(scores[0] > 0.5) if scores.shape[-1] == 1 else int(np.argmax(scores))


def pick_sample(src: Source) -> dict[str, Any]:
    """The golden string the source model decided most clearly: what the page classifies on load."""
    m = src.manifest
    _, reference = src.golden()
    ref = reference[m.outputs[0].name]
    margin = np.abs(ref[:, 0] - 0.5) if ref.shape[-1] == 1 else top_margin(ref)
    texts = golden_strings(src)
    i = int(np.argsort(-margin, kind="stable")[0])
    k = expected_index(ref[i])
    labels = src.labels
    return {"text": str(texts[i]), "golden_index": i, "expected_index": k,
            "expected_label": labels[k] if labels and k < len(labels) else f"class {k}",
            "reference_scores": [float(v) for v in ref[i]]}


def _tfjs_name(art: mf.Artifact, side: str, name: str) -> str:
    return ((art.io_names or {}).get(side) or [name])[0]


def build_web_text(src: Source, out: Path, opts: BundleOptions) -> tuple[list[str], dict[str, Any]]:
    """The text page: tokenizer.js + tokenizer.json + the TF.js numeric model + a text box."""
    m = src.manifest
    if opts.runtime == "litert" or opts.onnx:
        raise InputError("a text model's web bundle runs its numeric model with TF.js (the page tokenizes with "
                         "edgekit's JavaScript tokenizer); leave out --runtime litert and --onnx")
    choice = choose(src, "tfjs", None)
    path = src.artifact_path(choice.artifact)
    for f in sorted(p for p in path.rglob("*") if p.is_file()):
        copy_file(f, out / "model" / f.relative_to(path))
    gone = vendor.missing(*GROUPS["tfjs"])
    if gone:
        raise MissingDependency("the vendored JavaScript libraries",
                                f"{', '.join(gone[:2])} missing: run `edgekit setup` (`make setup-js` in a checkout)")
    for fname, vpath in vendor.files(*GROUPS["tfjs"]).items():
        copy_file(vpath, out / "vendor" / fname)
    copy_tokenizer(src, out)
    copy_file(STATIC / "tokenizer.js", out / "tokenizer.js")
    copy_file(APP_DIR / "text.html", out / "index.html")
    copy_file(APP_DIR / "text.js", out / "app.js")
    copy_file(APP_DIR / "common.js", out / "common.js")
    tin, tout = m.inputs[0], m.outputs[0]
    _, reference = src.golden()
    sample = pick_sample(src)
    config = {
        "generated_by": f"edgekit {__version__} bundle --target web",
        "engine": "tfjs",
        "tokenizer": TOKENIZER,
        "test_vectors": TEST_VECTORS,
        "input": {"name": tin.name, "tfjs_name": _tfjs_name(choice.artifact, "inputs", tin.name),
                  "dtype": "float32" if tin.dtype.startswith("float") else "int32", "shape": tin.shape},
        "output": {"name": tout.name, "tfjs_name": _tfjs_name(choice.artifact, "outputs", tout.name),
                   "meaning": output_meaning(tout, reference.get(tout.name), src.labels)},
        "labels": src.labels,
        "models": {"tfjs": "model/model.json"},
        "artifact": choice.artifact.id,
        "sample": sample,
        "vendor_versions": vendor.versions(*GROUPS["tfjs"]),
    }
    (out / "app.json").write_text(dumps_json(config, indent=1) + "\n", encoding="utf-8")
    (out / "README.md").write_text(_readme(src, config), encoding="utf-8")
    notes = [f"the page classifies golden string #{sample['golden_index']} on load; the source model says "
             f"{sample['expected_label']}"]
    return notes, {"sample": sample, "runtime": "tfjs", "artifact": choice.artifact.id, "why": "text model: TF.js"}


def _readme(src: Source, cfg: dict[str, Any]) -> str:
    versions = ", ".join(f"{k} {v}" for k, v in cfg["vendor_versions"].items())
    return f"""# Web bundle (text): {src.manifest.source.get('path', 'model')}

A static web app generated by `edgekit bundle --target web` for a text model that `edgekit convert` split at
its tokenizer layer. The page tokenizes what you type with `tokenizer.js` (edgekit's JavaScript tokenizer,
the one `edgekit validate` checked against the Keras layer in Node and Chromium) and `tokenizer.json`, then
runs the numeric model with TF.js and shows the labels with their scores. On load it classifies a golden
string and shows the result in the element `#prediction`. Everything is in this folder: it works offline.

## Run it

    python3 -m http.server --directory . 8000    # then open http://localhost:8000/

## What is here

- `index.html`, `app.js` (ES module), `app.json` (tensor names, labels, the sample).
- `tokenizer.js` (no dependencies; a classic script: `window.EdgekitTokenizer`, or `require()` in Node),
  `tokenizer.json` (vocabulary and rules, docs/text.md), `tokenizer_test_vectors.json` (golden strings and the
  ids the Keras layer produced: `EdgekitTokenizer.fromSpec(spec).encode(input)` must equal `expected`).
- `model/`: the `{cfg['artifact']}` TF.js graph model (token ids in: `{cfg['input']['name']}` {cfg['input']['shape']}).
- `vendor/`: {versions}, copied from edgekit's pinned npm install.

Sample: golden string #{cfg['sample']['golden_index']}, {cfg['sample']['text']!r}; the source model says
**{cfg['sample']['expected_label']}**.

## In your own code

    import {{ loadTextClassifier }} from './app.js';   // after loading tokenizer.js and the TF.js scripts
    const c = await loadTextClassifier();
    const {{ ids, top }} = await c.classify('some text');   // top: [{{index, label, score}}, ...], best first

Output `{cfg['output']['name']}`: {cfg['output']['meaning']}.
"""
