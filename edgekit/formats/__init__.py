"""One module per target format. Each exposes ``convert(ctx, target) -> Artifact``.

The registry below is data, read by ``edgekit convert`` (dispatch, option checks, scheduling) and by the CLI
(option flags and help text): each format declares its module, its options with their checks and help, and
what it needs and why; each target (the artifact ids users pass to ``--formats``) its file, variant and
relative cost. Adding a format = its module + one ``Format`` and its ``Target`` rows here + its tests.
Nothing here imports a converter: ``edgekit --help`` stays fast.
"""

from __future__ import annotations

import importlib
import re
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from edgekit.errors import FormatUnavailable, InputError


@dataclass(frozen=True)
class Option:
    """A format option: its ``ConvertOptions`` field, CLI flag, default, help text and the check of its value."""

    name: str
    flag: str
    default: str | int | float | None
    help: str
    choices: tuple[str, ...] = ()
    bounds: tuple[int, int] | None = None
    bounds_why: str = ""  # whose range the bounds are ("tf2onnx supports")
    kind: type | None = None  # an optional number (default None): float; else the default's type
    pattern: str = ""  # a regular expression a str value must match whole
    pattern_why: str = ""  # what the pattern accepts, in words

    @property
    def type(self) -> Any:
        return self.kind | None if self.kind is not None else type(self.default)

    def check(self, value: Any) -> None:
        """InputError naming the flag, the value received and what is accepted."""
        if self.kind is not None:
            if value is None:
                return
            if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
                raise InputError(f"{self.flag} must be a number; received {value!r}")
        elif not isinstance(value, self.type) or isinstance(value, bool):
            raise InputError(f"{self.flag} must be a {self.type.__name__}; received {value!r}")
        if self.choices and value not in self.choices:
            raise InputError(f"{self.flag} {value!r} is not one of {', '.join(self.choices)}")
        if self.bounds and not self.bounds[0] <= value <= self.bounds[1]:
            low, high = self.bounds
            default = "leave it out for none" if self.default is None else f"{self.default} is the default"
            raise InputError(f"{self.flag} {value} is outside the range {self.bounds_why} ({low} to {high}); "
                             f"{default}")
        if self.pattern and not re.fullmatch(self.pattern, value):
            raise InputError(f"{self.flag} must be {self.pattern_why}. Received: {value!r}; "
                             f"{self.default} is the default")


@dataclass(frozen=True)
class Format:
    """A target format: the module that converts to it, its options, and what it needs beyond TensorFlow."""

    name: str
    module: str  # imported only when one of its targets runs
    options: tuple[Option, ...] = ()
    needs: tuple[str, ...] = ()  # Python packages or external tools the converter drives
    why: str = ""  # why it needs them
    # "module:function" returning None when the format can be converted here, else why not and the alternative
    # (read from package metadata: nothing is imported). Without it the format is always available.
    check: str = ""

    def load(self) -> ModuleType:
        return importlib.import_module(self.module)

    def unavailable_reason(self) -> str | None:
        if not self.check:
            return None
        mod, fn = self.check.split(":")
        return getattr(importlib.import_module(mod), fn)()


@dataclass(frozen=True)
class Target:
    id: str
    format: str
    variant: str
    path: str
    needs_calibration: bool = False
    # Converters that are safe to run on a worker thread next to others (they only read the SavedModel).
    threadable: bool = True
    # Relative conversion time: the pool starts the costliest first, so its last job is a short one.
    cost: int = 0
    opt_in: bool = False  # asked for by name only, never part of 'all'
    why: str = ""


INT8 = (
    Option("int8_io", "--int8-io", "int8", "Input/output type of the int8 TFLite model: int8, uint8 or float32.",
           choices=("int8", "uint8", "float32")),
    # per-channel: one scale per output channel (the converter's default; keeps depthwise convs accurate).
    # per-tensor: one scale per weight tensor: smaller files for narrow nets, where per-channel scales and zero
    # points are a large share of the bytes (MobileNetV2 a0.35: 0.38x -> 0.28x of float32); check the accuracy.
    # auto: with a budget (below), the smallest layout that meets it; without one, per-channel.
    Option("int8_weights", "--int8-weights", "per-channel",
           "int8 weight scales: per-channel (default), per-tensor (smaller files), or auto (with --int8-max-drop: "
           "the smallest that meets the budget).", choices=("per-channel", "per-tensor", "auto")),
)
# An accuracy budget for tflite-int8 (docs/quant-debug.md): measured on the golden set, never on calibration data.
INT8_BUDGET = (
    Option("int8_max_drop", "--int8-max-drop", None,
           "Accuracy budget for tflite-int8, in percentage points of golden-set accuracy (or of top-1 agreement with "
           "the float model without labels): int8 layers are kept in float, fewest first, until it is met.",
           bounds=(0, 100), bounds_why="of percentage points", kind=float),
    Option("int8_min_sqnr", "--int8-min-sqnr", None,
           "The same budget as an SQNR floor in dB of the int8 outputs against the float model's (for outputs that "
           "are not class scores).", bounds=(-100, 200), bounds_why="of dB", kind=float),
)
# A C/C++ identifier that is neither a keyword nor reserved (a leading underscore + capital, or two underscores).
_CXX_KEYWORDS = ("alignas alignof and asm auto bool break case catch char class const constexpr continue default "
                 "delete do double else enum explicit extern false float for friend goto if inline int long mutable "
                 "namespace new noexcept not nullptr operator or private protected public register return short "
                 "signed sizeof static struct switch template this throw true try typedef typename union unsigned "
                 "using virtual void volatile while xor").split()
C_IDENTIFIER = rf"(?!(?:{'|'.join(_CXX_KEYWORDS)})$)(?!_[A-Z_])(?!.*__)[A-Za-z_][A-Za-z0-9_]{{0,62}}"
# docs/text.md: a model that starts with TextVectorization/StringLookup/IntegerLookup is split into tokenizer.json +
# a numeric model (split), or kept whole in one TFLite file with Select TF ops (flex, opt-in).
STRINGS = Option("strings", "--strings", "split",
                 "String-input models: split (tokenizer.json + the numeric model in every format) or flex (the whole "
                 "model in one TFLite file with Select TF ops; apps need the Flex delegate).",
                 choices=("split", "flex"))
LSTM = Option("lstm", "--lstm", "auto",
              "How to lower LSTM layers for TFLite: auto (fused op, else unrolled, else Flex), fused, unroll, flex.",
              choices=("auto", "fused", "unroll", "flex"))

FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        Format("saved_model", "edgekit.formats.saved_model"),
        Format("tflite", "edgekit.formats.tflite", options=(*INT8, *INT8_BUDGET, LSTM, STRINGS), needs=("tf_keras",),
               why="tf_keras rebuilds LSTM models so the converter can emit the fused LSTM op"),
        Format("tfjs", "edgekit.formats.tfjs", needs=("tensorflowjs",), why="its SavedModel converter",
               check="edgekit.extras:tfjs_unavailable_reason", options=(
            Option("tfjs_quantize", "--tfjs-quantize", "none",
                   "TF.js weight quantization: none, float16, uint8 or uint16.",
                   choices=("none", "float16", "uint8", "uint16")),)),
        Format("onnx", "edgekit.formats.onnx", needs=("tf2onnx",), why="its SavedModel converter",
               check="edgekit.extras:onnx_unavailable_reason", options=(
            Option("opset", "--opset", 17, "ONNX opset.", bounds=(9, 21), bounds_why="tf2onnx supports"),)),
        Format("edgetpu", "edgekit.formats.edgetpu", options=(*INT8, LSTM), needs=("edgetpu_compiler",),
               why="Coral's compiler maps the int8 model onto the Edge TPU (x86-64 Linux only); without it the "
                   "artifact records the pre-flight and the install hint"),
        Format("tflm", "edgekit.formats.tflm", needs=("tflite-micro",), options=(*INT8, *INT8_BUDGET, LSTM, Option(
            "tflm_name", "--tflm-name", "g_model",
            "C name of the TFLite Micro model array (NAME, NAME_len) in model_data.cc/.h.",
            pattern=C_IDENTIFIER, pattern_why="a C identifier (letters, digits, _; not a keyword or reserved "
                                              "name; at most 63 characters), e.g. g_model")),
               why="TFLite Micro's interpreter checks the ops and measures the tensor arena (x86-64 Linux wheel)"),
    )
}
# Every format option, in registry order, once (edgetpu converts through tflite and reads its options).
OPTIONS: tuple[Option, ...] = tuple({o.name: o for f in FORMATS.values() for o in f.options}.values())

TARGETS: dict[str, Target] = {
    t.id: t
    for t in (
        Target("saved_model", "saved_model", "float32", "saved_model", threadable=False,
               why="the canonical export every other converter starts from"),
        Target("tflite-float32", "tflite", "float32", "model_float32.tflite"),
        Target("tflite-float16", "tflite", "float16", "model_float16.tflite", cost=3,
               why="half-size weights; GPU delegates compute in fp16"),
        Target("tflite-dynamic", "tflite", "dynamic", "model_dynamic.tflite", cost=4,
               why="int8 weights, float activations, no calibration; hybrid kernels are slow on x86 (no XNNPACK)"),
        Target("tflite-int8", "tflite", "int8", "model_int8.tflite", needs_calibration=True, cost=5,
               why="full integer for Edge TPU, NPUs and microcontrollers; needs representative data"),
        Target("tflite-int16x8", "tflite", "int16x8", "model_int16x8.tflite", needs_calibration=True, cost=5,
               opt_in=True, why="int16 activations, int8 weights: survives activation outliers; CPU kernels only "
                                "(not XNNPACK, Edge TPU or NPUs): opt-in"),
        Target("tfjs", "tfjs", "float32", "tfjs", cost=2, why="graph model for the browser and Node"),
        Target("onnx", "onnx", "float32", "model.onnx", cost=1, why="ONNX Runtime on desktop, mobile and web"),
        Target("edgetpu", "edgetpu", "int8", "model_int8_edgetpu.tflite", needs_calibration=True, opt_in=True,
               why="Coral Edge TPU: int8 pre-flight, then edgetpu_compiler (opt-in: not part of 'all')"),
        Target("tflm", "tflm", "int8", "tflm", needs_calibration=True, opt_in=True, cost=5,
               why="TFLite Micro: the int8 model as C arrays, its op resolver and measured arena (opt-in)"),
    )
}
GROUPS: dict[str, list[str]] = {
    # edgetpu needs Coral's compiler (x86-64 Linux only); tflm converts the int8 model a second time and runs
    # the TFLM interpreter: both are asked for by name, never by default.
    "all": [t.id for t in TARGETS.values() if not t.opt_in],
    "tflite": [t.id for t in TARGETS.values() if t.format == "tflite" and not t.opt_in],
}
GROUP_HELP = {"tflite": "all four variants"}  # what the --formats help says about a group


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


def unavailable_targets(spec: str, targets: list[Target]) -> tuple[list[Target], list[str]]:
    """(targets that can be converted here, one warning per target left out of a group such as 'all').

    A format that cannot be converted in this environment (tensorflowjs on a TensorFlow it does not support) is
    left out of a group with a warning that says why and what to use instead; asked for by name, it is a
    MissingDependency (exit 3) before anything heavy is imported."""
    named = {s.strip() for s in spec.split(",")}
    keep: list[Target] = []
    notes: list[str] = []
    reasons: dict[str, str | None] = {}
    for t in targets:
        if t.format not in reasons:
            reasons[t.format] = FORMATS[t.format].unavailable_reason()
        reason = reasons[t.format]
        if reason is None:
            keep.append(t)
        elif t.id in named or t.format in named:
            raise FormatUnavailable(f"--formats {t.id}: the {t.format} format cannot be converted here: {reason}")
        else:
            notes.append(f"{t.id} left out: unavailable in this environment: {reason}")
    return keep, notes


def left_out(spec: str) -> list[str]:
    """The warnings ``unavailable_targets`` gives for ``spec`` (recorded in the manifest)."""
    return unavailable_targets(spec, parse_formats(spec))[1]


def formats_help() -> str:
    """The --formats help text: every id and group in canonical order, with what a group or opt-in means."""
    names: list[str] = []
    for t in TARGETS.values():
        names += [f"{g} ({about})" for g, about in GROUP_HELP.items() if GROUPS[g][0] == t.id]
        names.append(f"{t.id} (opt-in: not part of all)" if t.opt_in else t.id)
    return f"Comma-separated subset of: {', '.join(names)}. Default: all."


def check_options(options: Any) -> None:
    """Check every format option on ``options`` (a ConvertOptions) before anything heavy is imported."""
    for opt in OPTIONS:
        opt.check(getattr(options, opt.name))
    budget = [o.flag for o in INT8_BUDGET if getattr(options, o.name) is not None]
    if budget and not getattr(options, "golden", None) and getattr(options, "calibration", None) in (None, "random"):
        raise InputError(f"{budget[0]} needs a golden set to measure int8 on: give --golden (with labels) or real "
                         "--calibration data to hold one out; received neither")


def unused_options(options: Any, targets: list[Target]) -> list[str]:
    """Each format reads only the options it declares: one line per option set away from its default that no
    chosen target reads (recorded as a warning, so a typo'd --formats does not go unnoticed)."""
    read = {o.name for t in targets for o in FORMATS[t.format].options}
    lines = []
    for opt in OPTIONS:
        value = getattr(options, opt.name)
        if opt.name not in read and value != opt.default:
            owners = ", ".join(f.name for f in FORMATS.values() if opt in f.options)
            lines.append(f"{opt.flag} {value!r} has no effect: it applies to {owners}, and --formats asked for none "
                         "of them")
    return lines


def module(target: Target) -> ModuleType:
    return FORMATS[target.format].load()


def by_cost(targets: list[Target]) -> list[Target]:
    """Costliest first (stable: equal costs keep the canonical order)."""
    return sorted(targets, key=lambda t: -t.cost)


@dataclass
class Context:
    """Everything a format converter may read. Converters write only under ``staging`` and ``scratch()``."""

    staging: Path
    saved_model_dir: Path
    inputs: list[Any]  # list[TensorSpec]
    outputs: list[Any]
    keras_model: Any | None
    calibration: Any | None  # DataSet or None
    options: Any  # ConvertOptions
    check_inputs: dict[str, Any] = field(default_factory=dict)  # a few golden samples for sanity checks
    # The whole golden set (a DataSet, labels included) and the source model's outputs on it: what an accuracy
    # budget (--int8-max-drop) is measured on.
    golden: Any | None = None
    reference: dict[str, Any] = field(default_factory=dict)
    shared: dict[str, Any] = field(default_factory=dict)  # per-run caches (e.g. the LSTM lowering decision)
    _scratch: dict[str, Path] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def scratch(self, name: str) -> Path:
        """A working folder for intermediate files that are not artifacts, kept until ``close()``.

        A sibling of ``staging`` (same file system, never part of the output), named after it so an
        interrupted run's leftovers are recognisable."""
        if not name.isidentifier():
            raise ValueError(f"scratch folder names are identifiers; received {name!r}")
        with self._lock:
            if name not in self._scratch:
                path = self.staging.parent / f"{self.staging.name}-{name}"
                path.mkdir(exist_ok=True)
                self._scratch[name] = path
            return self._scratch[name]

    def close(self) -> None:
        """Remove every scratch folder handed out."""
        with self._lock:
            for path in self._scratch.values():
                shutil.rmtree(path, ignore_errors=True)
            self._scratch.clear()

    def __enter__(self) -> Context:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
