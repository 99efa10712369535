"""Which engine a web bundle ships: TF.js (the tfjs artifact) or LiteRT.js (a .tflite artifact).

``--runtime tfjs|litert`` decides; without it the bundle ships the engine whose artifact passed validation
(``DIR/report/report.json``, written by ``edgekit validate``) with the smaller download: the bytes the page
fetches on Chromium, model plus runtime. LiteRT.js ships int8 when the int8 file passed, else float32
(``--artifact`` picks another). Without a report nothing has passed yet: the bundle ships TF.js as it did
before (the .tflite when there is no tfjs artifact) and the README says the folder was not validated.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from edgekit import manifest as mf
from edgekit.bundle.common import Source
from edgekit.errors import InputError
from edgekit.web import vendor

RUNTIMES = ("tfjs", "litert")
# The browser rows that prove an artifact runs in the page, then the native runtime of the same kernels.
PASS_ROWS = {"tfjs": ("tfjs-browser-wasm", "tfjs-wasm"), "litert": ("litert-web-wasm", "litert")}
# What the page loads on Chromium (relaxed SIMD): one wasm build of each runtime, and its JavaScript.
PAGE_FILES = {
    "tfjs": ("tf-core.min.js", "tf-backend-cpu.min.js", "tf-converter.min.js", "tf-backend-wasm.min.js",
             "tfjs-backend-wasm-simd.wasm"),
    "litert": ("index.js", "bundle.js", "litert_wasm_internal.js", "litert_wasm_internal.wasm"),
}
GROUPS = {"tfjs": ("tfjs", "tfjs-wasm"), "litert": ("litert",)}
NAMES = {"tfjs": "TF.js", "litert": "LiteRT.js"}


@dataclass
class Choice:
    runtime: str  # tfjs | litert
    artifact: mf.Artifact
    why: str  # one sentence for the README and the CLI
    sizes: dict[str, dict[str, Any]] = field(default_factory=dict)  # runtime -> {artifact, model, runtime, total}


def validation_rows(src: Source) -> list[dict[str, Any]] | None:
    """The rows of ``DIR/report/report.json``, or None when the folder was not validated (or it is unreadable)."""
    path = src.folder / "report" / "report.json"
    try:
        return list(json.loads(path.read_text(encoding="utf-8"))["results"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def passed(rows: list[dict[str, Any]] | None, art: mf.Artifact, runtime: str) -> bool:
    """The artifact passed on the engine's browser row, or (no browser row for it) on its native runtime."""
    if rows is None:
        return False
    mine = [r for r in rows if r.get("artifact") == art.id and r.get("sha256", art.sha256) == art.sha256]
    for name in PASS_ROWS[runtime]:
        hits = [r for r in mine if r.get("runtime") == name]
        if hits:
            return all(r.get("status") == "pass" for r in hits)
    return False


def _model_bytes(src: Source, art: mf.Artifact) -> int:
    path = src.folder / art.path
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else path.stat().st_size


def download(src: Source, runtime: str, art: mf.Artifact) -> dict[str, Any]:
    files = vendor.files(*GROUPS[runtime])
    rt = sum(files[f].stat().st_size for f in PAGE_FILES[runtime] if f in files and files[f].is_file())
    model = _model_bytes(src, art)
    return {"artifact": art.id, "model": model, "runtime": rt, "total": model + rt}


def _tflite(src: Source, rows: list[dict[str, Any]] | None, wanted: list[str] | None) -> mf.Artifact | None:
    arts = {a.id: a for a in src.manifest.artifacts if a.format == "tflite" and a.ok}
    if wanted:
        bad = [w for w in wanted if w not in arts]
        if bad or len(wanted) != 1:
            raise InputError(f"--artifact for a LiteRT.js web bundle: one produced TFLite artifact id; received "
                             f"{wanted}; produced: {', '.join(arts) or 'none'}")
        return arts[wanted[0]]
    int8 = next((a for a in arts.values() if a.variant == "int8"), None)
    if int8 is not None and passed(rows, int8, "litert"):
        return int8
    return next((a for a in arts.values() if a.variant == "float32"), None)


def choose(src: Source, runtime: str | None, wanted: list[str] | None) -> Choice:
    """The engine and artifact to ship, with the reason and both downloads."""
    if runtime is not None and runtime not in RUNTIMES:
        raise InputError(f"--runtime must be one of {', '.join(RUNTIMES)} (web). Received: runtime={runtime!r}")
    rows = validation_rows(src)
    tfjs = next((a for a in src.manifest.artifacts if a.format == "tfjs" and a.ok), None)
    candidates = {"tfjs": tfjs, "litert": _tflite(src, rows, wanted if runtime != "tfjs" else None)}
    sizes = {rt: download(src, rt, a) for rt, a in candidates.items() if a is not None}
    if runtime is not None:
        art = candidates[runtime]
        if art is None:
            need = "tfjs" if runtime == "tfjs" else "tflite"
            raise InputError(f"--runtime {runtime}: no produced {need} artifact in {src.folder}: convert with "
                             f"--formats {need} (or all)")
        return Choice(runtime, art, f"--runtime {runtime} was asked for", sizes)
    if rows is None:  # nothing validated: TF.js as before validation existed, else the .tflite
        rt = "tfjs" if tfjs is not None else "litert"
        if candidates[rt] is None:
            raise InputError(f"no tfjs or tflite artifact in {src.folder}: convert with --formats tfjs or tflite")
        return Choice(rt, candidates[rt], f"{NAMES[rt]}: the folder was not validated (no report/report.json), so "
                      "nothing passed yet; run `edgekit validate DIR --device browser` and the validated engine "
                      "with the smaller download becomes the default", sizes)
    ok = {rt: a for rt, a in candidates.items() if a is not None and passed(rows, a, rt)}
    if not ok:
        raise InputError(f"no tfjs or tflite artifact of {src.folder} passed validation (report/report.json); "
                         "fix it, or pick one with --runtime")
    best = min(ok, key=lambda rt: (sizes[rt]["total"], RUNTIMES.index(rt)))
    mb = {rt: f"{s['total'] / 1e6:.2f} MB ({s['artifact']} {s['model'] / 1e6:.2f} MB + runtime "
              f"{s['runtime'] / 1e6:.2f} MB)" for rt, s in sizes.items()}
    why = (f"{NAMES[best]}: the smallest download of the engines whose artifact passed validation: "
           + "; ".join(f"{NAMES[rt]} {mb[rt]}" + ("" if rt in ok else " (did not pass)") for rt in sizes))
    return Choice(best, ok[best], why, sizes)
