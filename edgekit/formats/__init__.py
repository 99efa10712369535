"""One module per target format. Each exposes ``convert(ctx, target) -> Artifact``.

The registry below is data: the artifact ids users pass to ``--formats``, what each needs, and why.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgekit.errors import InputError


@dataclass(frozen=True)
class Target:
    id: str
    format: str
    variant: str
    path: str
    needs_calibration: bool = False
    # Converters that are safe to run on a worker thread next to others (they only read the SavedModel).
    threadable: bool = True
    why: str = ""


TARGETS: dict[str, Target] = {
    t.id: t
    for t in (
        Target("saved_model", "saved_model", "float32", "saved_model", threadable=False,
               why="the canonical export every other converter starts from"),
        Target("tflite-float32", "tflite", "float32", "model_float32.tflite"),
        Target("tflite-float16", "tflite", "float16", "model_float16.tflite",
               why="half-size weights; GPU delegates compute in fp16"),
        Target("tflite-dynamic", "tflite", "dynamic", "model_dynamic.tflite",
               why="int8 weights, float activations, no calibration; hybrid kernels are slow on x86 (no XNNPACK)"),
        Target("tflite-int8", "tflite", "int8", "model_int8.tflite", needs_calibration=True,
               why="full integer for Edge TPU, NPUs and microcontrollers; needs representative data"),
        Target("tfjs", "tfjs", "float32", "tfjs", why="graph model for the browser and Node"),
        Target("onnx", "onnx", "float32", "model.onnx", why="ONNX Runtime on desktop, mobile and web"),
        Target("edgetpu", "edgetpu", "int8", "model_int8_edgetpu.tflite", needs_calibration=True,
               why="Coral Edge TPU: int8 pre-flight, then edgetpu_compiler (opt-in: not part of 'all')"),
    )
}
GROUPS = {
    # edgetpu needs Coral's compiler (x86-64 Linux only): asked for by name, never by default.
    "all": [t for t in TARGETS if t != "edgetpu"],
    "tflite": ["tflite-float32", "tflite-float16", "tflite-dynamic", "tflite-int8"],
}


def parse_formats(spec: str) -> list[Target]:
    """'all' | comma list of ids or groups -> targets in canonical order; saved_model always first."""
    wanted: set[str] = set()
    for raw in (s.strip() for s in spec.split(",")):
        if not raw:
            continue
        if raw in GROUPS:
            wanted.update(GROUPS[raw])
        elif raw in TARGETS:
            wanted.add(raw)
        else:
            valid = ", ".join(list(GROUPS) + list(TARGETS))
            raise InputError(f"--formats: unknown format {raw!r}; valid: {valid}")
    if not wanted:
        raise InputError("--formats is empty; give e.g. --formats tflite,onnx or --formats all")
    return [TARGETS[i] for i in TARGETS if i in wanted]


@dataclass
class Context:
    """Everything a format converter may read. Converters write only under ``staging``."""

    staging: Path
    saved_model_dir: Path
    inputs: list[Any]  # list[TensorSpec]
    outputs: list[Any]
    keras_model: Any | None
    calibration: Any | None  # DataSet or None
    options: Any  # ConvertOptions
    check_inputs: dict[str, Any] = field(default_factory=dict)  # a few golden samples for sanity checks
    shared: dict[str, Any] = field(default_factory=dict)  # per-run caches (e.g. the LSTM lowering decision)
