"""Which optional extra brings which library, the pip command that adds it, and the format checks built on that.

edgekit's core (typer, rich, numpy, pydantic) reads manifests, bundles and reports; the heavy libraries come
with extras (pyproject.toml): ``convert`` (TensorFlow, Keras, tf2onnx), ``tfjs`` (tensorflowjs, which pins
TensorFlow 2.19), ``runtimes`` (LiteRT, ONNX Runtime), ``web`` (Playwright), ``train`` (convert + the
recipes' built-in data), ``all``. Everything here reads package metadata only: nothing heavy is imported.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from importlib import metadata, resources
from pathlib import Path

from edgekit.errors import MissingDependency

# import name -> (distribution on PyPI, the extra that brings it)
PROVIDERS: dict[str, tuple[str, str]] = {
    "tensorflow": ("tensorflow", "convert"),
    "keras": ("keras", "convert"),
    "tf_keras": ("tf-keras", "convert"),
    "tf2onnx": ("tf2onnx", "convert"),
    "onnx": ("onnx", "convert"),
    "tensorflowjs": ("tensorflowjs", "tfjs"),
    "ai_edge_litert": ("ai-edge-litert", "runtimes"),
    "onnxruntime": ("onnxruntime", "runtimes"),
    "playwright": ("playwright", "web"),
    "sklearn": ("scikit-learn", "train"),
    "statsmodels": ("statsmodels", "train"),
}
# tensorflowjs 4.22 (its newest release) depends on tensorflow-decision-forests, which pins TensorFlow exactly.
TFJS_TENSORFLOW = "2.19"
TFJS_MAX_PYTHON = (3, 12)  # TensorFlow 2.19 publishes wheels up to Python 3.12


def constraints_file() -> Path:
    """The known-good pins shipped with edgekit for this interpreter's stack (the files `make setup` uses)."""
    return shipped_constraints("constraints-py313.txt" if sys.version_info >= (3, 13) else "constraints.txt")


def shipped_constraints(name: str) -> Path:
    return Path(str(resources.files("edgekit").joinpath("data", name)))


def pip_command(extra: str, constraints: Path | None = None) -> str:
    """The command that adds ``extra`` to the environment edgekit runs in: plain pip, or pipx's pip for the venv
    pipx made for edgekit (a bare `pip install` there would go to another environment)."""
    return f"{pip_install()} 'edgekit[{extra}]' -c {constraints or constraints_file()}"


def pip_install() -> str:
    """`pip install`, or `pipx runpip edgekit install` inside the venv pipx made for edgekit."""
    return "pipx runpip edgekit install" if in_pipx() else "pip install"


def in_pipx() -> bool:
    """Whether this interpreter's environment is one pipx manages (pipx writes pipx_metadata.json at its root)."""
    return (Path(sys.prefix) / "pipx_metadata.json").is_file()


def missing(module: str) -> MissingDependency | None:
    """The error for ``module`` when it cannot be imported here (found without importing it), else None."""
    if importlib.util.find_spec(module) is not None:
        return None
    dist, extra = PROVIDERS[module]
    return MissingDependency(dist, f"it comes with edgekit's `{extra}` extra: {pip_command(extra)}")


def require(*modules: str) -> None:
    """Raise MissingDependency (exit 3, with the pip command) for the first of ``modules`` not installed."""
    for m in modules:
        err = missing(m)
        if err is not None:
            raise err


def version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _minor(v: str | None) -> str:
    return ".".join((v or "").split(".")[:2])


def tfjs_unavailable_reason() -> str | None:
    """None when tensorflowjs can convert here, else why not and what to use instead (never imports it)."""
    tf = version("tensorflow")
    py = f"{sys.version_info.major}.{sys.version_info.minor}"
    allowed = _minor(tfdf_tensorflow_pin()) or TFJS_TENSORFLOW
    if version("tensorflowjs") is None or (tf is not None and _minor(tf) != allowed):
        here = f"TensorFlow {tf}" if tf else "no TensorFlow"
        return (f"tensorflowjs {'is not installed' if version('tensorflowjs') is None else 'cannot run here'}: its "
                f"newest release (4.22) needs TensorFlow {allowed} and Python <= "
                f"{'.'.join(map(str, TFJS_MAX_PYTHON))}, this environment has {here} on Python {py}. Alternatives: "
                "for the browser, the tflite artifacts (LiteRT.js) or onnx (onnxruntime-web); for TF.js itself, "
                f"a Python 3.11/3.12 environment with {pip_command('all', shipped_constraints('constraints.txt'))}")
    return None


def onnx_unavailable_reason() -> str | None:
    for m in ("tf2onnx", "onnx"):
        err = missing(m)
        if err is not None:
            return str(err)
    return None


def tfdf_tensorflow_pin() -> str | None:
    """The TensorFlow version tensorflow-decision-forests (pulled by tensorflowjs) pins, when it is installed."""
    try:
        reqs = metadata.requires("tensorflow-decision-forests") or []
    except metadata.PackageNotFoundError:
        return None
    for r in reqs:
        m = re.fullmatch(r"tensorflow\s*==\s*([\d.]+)\s*", r.split(";")[0])
        if m:
            return m.group(1)
    return None


__all__ = ["PROVIDERS", "constraints_file", "missing", "onnx_unavailable_reason", "pip_command", "require",
           "tfjs_unavailable_reason", "version"]
