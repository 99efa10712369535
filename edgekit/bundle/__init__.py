"""``edgekit bundle DIR --target web|android|ios --out BUNDLE``: what an app developer copies into an app.

- ``web``: a static app (index.html + app.js) that runs the TF.js model (optionally the ONNX one through
  onnxruntime-web) on a picture, with the JS libraries vendored from edgekit's npm install (offline);
- ``android`` / ``ios``: the TFLite model(s), labels, a JSON model card and Kotlin / Swift snippets;
- ``mcu``: the TFLite Micro C sources (model array, op resolver, settings, a golden sample) with main.cc and a
  README with the flash/RAM budget (``edgekit.bundle.mcu``).

Like ``convert``, the bundle is built in a temporary sibling folder and moved into place at the end:
a failure never leaves a half-written BUNDLE, and an existing non-empty BUNDLE is replaced only with
``force``. Only artifacts whose sha256 still matches the manifest are bundled.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgekit import outdir
from edgekit.bundle.common import (
    TARGETS,
    BundleOptions,
    Source,
    check_target,
    copy_file,
    load_source,
    output_meaning,
    top_margin,
)
from edgekit.verbs import callable_module

__all__ = ["TARGETS", "BundleOptions", "BundleResult", "Source", "bundle", "check_target", "copy_file",
           "load_source", "output_meaning", "top_margin"]


@dataclass
class BundleResult:
    out: Path
    target: str
    files: list[str]  # relative paths, sorted
    bytes: int
    notes: list[str] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)  # e.g. the web sample's expected label


def bundle(folder: Path | str, out: Path | str, opts: BundleOptions | None = None) -> BundleResult:
    """Build the bundle for ``opts.target`` from the convert folder ``folder`` into ``out``."""
    opts = opts or BundleOptions()
    check_target(opts.target)
    folder, out = Path(folder), Path(out)
    src = load_source(folder, opts.labels)
    outdir.check_out(out, opts.force, [Path(opts.labels)] if opts.labels is not None else [], reads=folder)
    with outdir.staging(out) as st:
        if opts.target == "web":
            from edgekit.bundle.web import build_web

            notes, facts = build_web(src, st.path, opts)
        elif opts.target == "mcu":
            from edgekit.bundle.mcu import build_mcu

            notes, facts = build_mcu(src, st.path, opts)
        else:
            from edgekit.bundle.mobile import build_mobile

            notes, facts = build_mobile(src, st.path, opts)
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    return BundleResult(out=out, target=opts.target, files=files, bytes=sum((out / f).stat().st_size for f in files),
                        notes=st.notices + notes, facts=facts)


callable_module(__name__)  # edgekit.bundle(...) at the package root runs edgekit.api.bundle
