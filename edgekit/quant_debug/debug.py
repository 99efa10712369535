"""`edgekit quant-debug DIR`: the parent side. Every check of the input runs here, before anything is written
or TensorFlow is imported; the TensorFlow work (calibration, statistics, one quantization per layer) runs in a
worker process (edgekit/quant_debug/worker.py, the approach of edgekit/isolate.py), so a native crash of the
calibrator or the quantizer is one error line, not a dead CLI."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from edgekit import outdir
from edgekit.errors import ConversionError, InputError
from edgekit.folder import ConvertedFolder
from edgekit.isolate import child_env
from edgekit.quant_debug.records import QuantDebugReport
from edgekit.quant_debug.score import from_folder

REPORT_FILES = ("quant_debug.json", "quant_debug.html")


@dataclass
class DebugOptions:
    calibration: str | None = None  # default: the calibration data the manifest records
    calibration_samples: int = 200
    report_dir: Path | None = None  # default: DIR/report
    time_bound_s: float = 300.0  # the per-layer effect measurements stop here; what is left is listed as such
    max_layers: int = 48  # above this many layers only the suspects (top by each statistic) are measured


def check(folder: Path, opts: DebugOptions) -> tuple[ConvertedFolder, str, Path]:
    """(the folder, the calibration spec, the report folder), or InputError before anything is written."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"quant-debug: {folder} is not a folder; give an `edgekit convert` output folder")
    if not (folder / "saved_model" / "saved_model.pb").is_file():
        raise InputError(f"quant-debug: {folder} has no saved_model/ (the float model it re-quantizes); re-run "
                         "`edgekit convert` with saved_model in --formats")
    conv = ConvertedFolder.open(folder)
    from_folder(folder)  # the golden set is there and matches its manifest
    limits = (("--calibration-samples", opts.calibration_samples), ("--time-bound", opts.time_bound_s),
              ("--max-layers", opts.max_layers))
    for name, value in limits:
        low = 1
        if not value >= low:
            raise InputError(f"{name} must be at least {low}; received {value}")
    spec = opts.calibration or ((conv.manifest.calibration or {}).get("source") or "")
    spec = spec.split(" -> ")[0]  # a .toml definition is recorded as "defs.toml -> data.npz"
    if not spec or spec == "random":
        raise InputError(f"quant-debug: no calibration data: the manifest of {folder} records "
                         f"{spec or 'none'}; give --calibration PATH (.npy/.npz, an image folder or a .toml)")
    if not Path(spec).exists():
        raise InputError(f"quant-debug: calibration data {spec} does not exist; give --calibration PATH")
    report = opts.report_dir or folder / "report"
    report = outdir.contained(folder, Path(report), "--report")
    for art in [a for a in conv.manifest.artifacts if a.path] + [None]:
        kept = folder / (art.path if art else "saved_model")
        if outdir.inside(report, kept):  # a report written there would change the artifact's sha256
            raise InputError(f"--report {report} lies inside {kept}; its sha256 would no longer match. Choose "
                             "another --report")
    outdir.check_writable_folder(report, REPORT_FILES, "--report")
    return conv, spec, report


def quant_debug(folder: Path, opts: DebugOptions) -> tuple[QuantDebugReport, dict[str, Path]]:
    """Run the analysis; write quant_debug.json and quant_debug.html; return the report and their paths."""
    from edgekit.quant_debug import page

    conv, spec, report_dir = check(Path(folder), opts)
    int8 = next((a for a in conv.manifest.artifacts if a.id == "tflite-int8"), None)
    options = (int8.converter.get("options") or {}) if int8 is not None else {}
    job = {"folder": str(Path(folder).resolve()), "calibration": spec, "samples": opts.calibration_samples,
           "io": options.get("inference_input_type", "int8"),
           "layout": "per-channel" if options.get("per_channel", True) else "per-tensor",
           "time_bound_s": opts.time_bound_s, "max_layers": opts.max_layers}
    report = _run_worker(job)
    report_dir.mkdir(parents=True, exist_ok=True)
    paths = {"json": outdir.write_text_inside(report_dir, REPORT_FILES[0], report.model_dump_json(indent=2) + "\n"),
             "html": outdir.write_text_inside(report_dir, REPORT_FILES[1], page.html(report))}
    return report, paths


def _run_worker(job: dict[str, object]) -> QuantDebugReport:
    with tempfile.TemporaryDirectory(prefix="edgekit-quant-debug-") as work:
        job_path, result = Path(work) / "job.json", Path(work) / "result.json"
        job_path.write_text(json.dumps(job), encoding="utf-8")
        proc = subprocess.run([sys.executable, "-m", "edgekit.quant_debug.worker", str(job_path), str(result)],
                              env=child_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
        if proc.returncode != 0 or not result.is_file():
            rc = proc.returncode
            how = f"crashed natively ({signal.Signals(-rc).name})" if -rc in set(signal.Signals) else \
                f"stopped (exit status {rc})"
            tail = proc.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
            raise ConversionError(f"quant-debug's worker {how}; nothing was written. Its last line: {tail[0][:300]}")
        doc = json.loads(result.read_text(encoding="utf-8"))
    if "error" in doc:
        error = InputError if doc.get("input_error") else ConversionError
        raise error(doc["error"])
    return QuantDebugReport.model_validate(doc["report"])
