"""Contain native crashes: converters that calibrate run in a child process, so a segfault costs one format.

Full-integer calibration runs the TFLite calibrator (C++) on user data; when it crashes (a segfault on data
that overflowed, seen in issue 10.5) it used to take the whole `edgekit convert` down: exit 139, every other
format lost, a staging folder left behind. Here such a target converts in a child Python process and the
parent records a crash as a failed artifact with the signal's name.

Cost: the child imports TensorFlow (and, for recurrent Keras models only, loads the Keras model to lower
them). It is started (``prestart``) before the parent loads the model, so the import overlaps the parent's
own work; it then waits for its one job. benchmarks/contain_cost.py measures what it adds.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from edgekit.errors import ConversionError, InputError
from edgekit.manifest import Artifact, TensorSpec

# Set to a target id, makes the child crash natively there (tests prove the containment with it).
CRASH_HOOK = "EDGEKIT_TEST_CRASH_TARGET"
# "0" converts in-process (for debugging with a native debugger).
SWITCH = "EDGEKIT_CONTAIN"
JOB, CALIBRATION, RESULT = "job.json", "calibration.npz", "result.json"


def wanted(target: Any) -> bool:
    return bool(target.needs_calibration) and os.environ.get(SWITCH, "1") != "0"


class _Child:
    """One started child process and its private work folder."""

    def __init__(self, model: Path, kind: str) -> None:
        self.model = model
        self.work = Path(tempfile.mkdtemp(prefix="edgekit-contain-"))
        self.proc = subprocess.Popen([sys.executable, "-m", "edgekit.isolate", str(self.work), str(model), kind],
                                     stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, env=child_env())

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        if self.proc.stdin:
            self.proc.stdin.close()
        shutil.rmtree(self.work, ignore_errors=True)


_LOCK = threading.Lock()
_READY: list[_Child] = []  # children started by prestart, not yet handed a job


@contextlib.contextmanager
def prestart(model: Path, kind: str, targets: list[Any]) -> Iterator[None]:
    """Start one child per contained target now (it imports TensorFlow meanwhile); stop leftovers at exit."""
    started = [_Child(Path(model).resolve(), kind) for t in targets if wanted(t)]
    with _LOCK:
        _READY.extend(started)
    try:
        yield
    finally:
        with _LOCK:
            for c in started:
                if c in _READY:
                    _READY.remove(c)
        for c in started:
            c.close()


def convert(module: Any, ctx: Any, target: Any, model: Path | None = None) -> Artifact:
    """``module.convert(ctx, target)``; in the child ``prestart`` started for ``model`` when there is one."""
    child = None
    if wanted(target):
        with _LOCK:
            mine = [c for c in _READY if model is None or c.model == Path(model).resolve()]
            if mine:
                child = mine[0]
                _READY.remove(child)
    if child is None:
        crash_if_asked(target.id)
        return module.convert(ctx, target)
    try:
        return _run_job(child, module, ctx, target)
    finally:
        child.close()


def _run_job(child: _Child, module: Any, ctx: Any, target: Any) -> Artifact:
    arrays = {f"c/{k}": v for k, v in ctx.calibration.arrays.items()}
    arrays.update({f"g/{k}": v for k, v in ctx.check_inputs.items()})
    if ctx.golden is not None:  # the whole golden set: an int8 accuracy budget is measured on it
        arrays.update({f"gi/{k}": v for k, v in ctx.golden.arrays.items()})
        arrays.update({f"gr/{k}": v for k, v in ctx.reference.items()})
        if ctx.golden.labels is not None:
            arrays["gl"] = ctx.golden.labels
    np.savez(child.work / CALIBRATION, **arrays)
    job = {
        "module": module.__name__, "target": target.id, "staging": str(ctx.staging),
        "saved_model_dir": str(ctx.saved_model_dir), "inputs": [dataclasses.asdict(t) for t in ctx.inputs],
        "outputs": [dataclasses.asdict(t) for t in ctx.outputs], "options": dataclasses.asdict(ctx.options),
        "calibration": {"source": ctx.calibration.source, "warnings": ctx.calibration.warnings},
        "needs_keras": _has_recurrent_layers(ctx.keras_model),
    }
    (child.work / JOB).write_text(json.dumps(job, default=str), encoding="utf-8")
    try:
        child.proc.stdin.write(b"go\n")
        child.proc.stdin.close()
    except OSError:
        pass  # it already died: its exit status says how
    code = child.proc.wait()
    result = child.work / RESULT
    if code < 0 or not result.is_file():
        what = "crashed natively" if code < 0 else "stopped"
        raise ConversionError(f"the converter {what} ({_signal_name(code)}) in its worker process; the other "
                              "formats are unaffected. See convert.log")
    doc = json.loads(result.read_text(encoding="utf-8"))
    if "artifact" in doc:
        return Artifact.from_dict(doc["artifact"])
    error = InputError if doc.get("input_error") else ConversionError
    raise error(doc["message"])


def _has_recurrent_layers(model: Any) -> bool:
    """Whether the TFLite converter will need the Keras model itself (to lower recurrent layers)."""
    from edgekit.formats.rnn import find_rnn_layers

    return model is not None and bool(find_rnn_layers(model))


def crash_if_asked(target_id: str) -> None:
    """Test-only: a real native crash (SIGSEGV) where the converter would run, when CRASH_HOOK names it."""
    if os.environ.get(CRASH_HOOK) == target_id:
        import ctypes

        ctypes.string_at(0)


def _signal_name(code: int) -> str:
    if code < 0:
        with contextlib.suppress(ValueError):
            return signal.Signals(-code).name
        return f"signal {-code}"
    return f"exit status {code}"


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    # The child must import this very edgekit (a worktree, an editable install): the parent's sys.path first.
    env["PYTHONPATH"] = os.pathsep.join([p for p in sys.path if p] + [env.get("PYTHONPATH", "")])
    return env


# ---------------------------------------------------------------------------------------------------------
# The child side.


def _child_main(work: Path, model: Path, kind: str) -> int:
    # TF_CPP_MIN_LOG_LEVEL & co. come from the parent's environment (convert.quiet_tensorflow ran there).
    import tensorflow as tf  # noqa: F401  (the slow part, done while the parent loads the model)

    if sys.stdin.readline().strip() != "go":
        shutil.rmtree(work, ignore_errors=True)  # the parent stopped (or was killed) before it needed us
        return 0
    job = json.loads((work / JOB).read_text(encoding="utf-8"))
    try:
        keras_model = None
        if job["needs_keras"] and kind in ("keras", "h5"):  # recurrent layers are lowered from the Keras model
            import keras

            # safe_mode: the same refusal of arbitrary Python as the parent's load (edgekit.source).
            keras_model = _as_converted(keras.saving.load_model(model, compile=False, safe_mode=True), job)
        art = _child_convert(work, job, keras_model)
        doc: dict[str, Any] = {"artifact": art.to_dict()}
    except Exception as e:  # reported to the parent, which records the failed format
        doc = {"message": str(e) or type(e).__name__, "input_error": isinstance(e, InputError)
               and not isinstance(e, ConversionError)}
    tmp = work / (RESULT + ".tmp")
    tmp.write_text(json.dumps(doc), encoding="utf-8")
    os.replace(tmp, work / RESULT)
    # The parent waits for this exit: skip TensorFlow's interpreter teardown (seconds), nothing is left to flush.
    sys.stderr.flush()
    os._exit(0)


def _as_converted(keras_model: Any, job: dict[str, Any]) -> Any:
    """The model the parent converts: for a text model it split (its jobs take token ids), the numeric part
    (edgekit.text.split), not the whole string model the file holds."""
    from edgekit.text.split import IDS_INPUT, split_model

    if [t["name"] for t in job["inputs"]] != [IDS_INPUT]:
        return keras_model
    strings = [TensorSpec(t.name, [None if d is None else int(d) for d in t.shape], str(t.dtype))
               for t in keras_model.inputs]
    found = split_model(keras_model, strings)
    return found[1] if found is not None else keras_model


def _child_convert(work: Path, job: dict[str, Any], keras_model: Any) -> Artifact:
    import importlib

    from edgekit.data import DataSet
    from edgekit.formats import TARGETS, Context, shared_load

    with np.load(work / CALIBRATION, allow_pickle=False) as z:
        data = {k: z[k] for k in z.files}
    calib = DataSet({k[2:]: v for k, v in data.items() if k.startswith("c/")}, source=job["calibration"]["source"],
                    warnings=list(job["calibration"]["warnings"]))
    # The converters read options as attributes (int8_io, int8_weights, lstm, ...); no import of edgekit.convert.
    opts = SimpleNamespace(**job["options"])
    ctx = Context(staging=Path(job["staging"]), saved_model_dir=Path(job["saved_model_dir"]),
                  inputs=[TensorSpec.from_dict(t) for t in job["inputs"]],
                  outputs=[TensorSpec.from_dict(t) for t in job["outputs"]], keras_model=keras_model,
                  calibration=calib, options=opts,
                  check_inputs={k[2:]: v for k, v in data.items() if k.startswith("g/")},
                  reference={k[3:]: v for k, v in data.items() if k.startswith("gr/")})
    golden = {k[3:]: v for k, v in data.items() if k.startswith("gi/")}
    if golden:
        ctx.golden = DataSet(golden, source="golden", labels=data.get("gl"))
    target = TARGETS[job["target"]]
    crash_if_asked(target.id)
    module = importlib.import_module(job["module"])
    shared_load.share(ctx.saved_model_dir)
    return module.convert(ctx, target)


if __name__ == "__main__":
    sys.exit(_child_main(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]))
