"""An artifact is ``ok`` only when its runtime can load it: checked at convert time, right after converting.

tf2onnx once wrote an ``Erfc`` node (not an ONNX operator) and convert said ``onnx: ok`` while ONNX Runtime
refused the file (issue 10.21). Each format's own runtime now loads what was written:

* ONNX: ``onnx.checker`` (full check) and an ONNX Runtime CPU session;
* TFLite: a LiteRT interpreter that allocates its tensors (Flex models need the Flex delegate, which the
  Python LiteRT wheel lacks: skipped and said so);
* TF.js: a load in Node (edgekit/js/runner.js), when Node is installed, that also runs one golden sample on
  the wasm and cpu backends and compares it with the source model (edgekit/formats/tfjs_check.py): when no
  backend can run it the artifact is ``not-runnable`` with the reason;
* SavedModel: the converters already loaded it; Edge TPU: needs the Edge TPU runtime (validate runs it).

``check`` marks an artifact its runtime cannot load as failed, with the reason; what was checked goes into
``artifact.extra["load_check"]``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from edgekit.errors import first_line
from edgekit.manifest import STATUS_FAILED, Artifact, safe_join


def check(ctx: Any, art: Artifact) -> None:
    """Load ``art`` (converted in ``ctx.staging``) with its runtime; when that fails, mark it failed and say why."""
    checker = {"onnx": _onnx, "tflite": _tflite, "tfjs": _tfjs}.get(art.format)
    if checker is None:
        art.extra["load_check"] = "not applicable at convert time"
        return
    # A few golden inputs in signature order (TF.js runs one).
    sample = {t.name: ctx.check_inputs[t.name] for t in ctx.inputs if t.name in ctx.check_inputs}
    try:
        extra = {"ctx": ctx} if art.format == "tfjs" else {}  # the run check compares with ctx.reference
        art.extra["load_check"] = checker(safe_join(ctx.staging, art.path), art, sample, **extra)
    except ImportError as e:  # the checking runtime is not installed: not the artifact's fault
        art.extra["load_check"] = f"skipped: {type(e).__name__}: {first_line(e)}"
    except Exception as e:  # any failure to load means the artifact is unusable: record why
        art.status = STATUS_FAILED
        art.reason = f"written, but {_RUNTIME[art.format]} cannot load it: {type(e).__name__}: {first_line(e)}"


_RUNTIME = {"onnx": "ONNX Runtime", "tflite": "the LiteRT interpreter", "tfjs": "TF.js in Node"}


def _onnx(path: Path, art: Artifact, sample: dict[str, np.ndarray]) -> str:
    import onnx
    import onnxruntime as ort

    onnx.checker.check_model(str(path), full_check=True)
    ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return f"onnx.checker and onnxruntime {ort.__version__} session: loaded"


def _tflite(path: Path, art: Artifact, sample: dict[str, np.ndarray]) -> str:
    if art.requires_flex:
        return "skipped: needs the Flex delegate, which the Python LiteRT interpreter does not include"
    from ai_edge_litert import __version__ as version
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path))
    interpreter.allocate_tensors()
    return f"ai-edge-litert {version} interpreter: allocated"


def _tfjs(path: Path, art: Artifact, sample: dict[str, np.ndarray], ctx: Any = None) -> str:
    from edgekit.formats import tfjs_check

    return tfjs_check.check(ctx, path, art, sample)
