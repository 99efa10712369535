"""Typed contracts for what users and files hand edgekit: JSON reading, labels, the preprocessing record.

Every contract is a pydantic model (or adapter); :func:`one_line` turns a pydantic ``ValidationError``
into the single ``FIELD: expected TYPE, received VALUE`` line the CLI prints. JSON files are read with
:func:`read_json` (no NaN/Infinity, bounded nesting, never a RecursionError) and written with
:func:`dumps_json` (``allow_nan=False``), so edgekit never reads or writes invalid JSON.

The preprocessing record is written by ``edgekit train``, recorded by ``edgekit convert`` and applied by
``edgekit bundle``; all three go through :class:`PreprocessingRecord`, so none can write what another
refuses. Its honoured keys (anything else is kept as free-form, finite JSON):

| key | value | default |
| --- | --- | --- |
| ``scale`` | non-zero number multiplied into the 0..255 pixel | 1 |
| ``mean`` | number or one number per channel, subtracted after ``scale`` | 0 |
| ``std`` | non-zero number or one per channel, divided last | 1 |
| ``color`` | ``rgb``, ``bgr`` or ``grayscale`` | from the channel count |
| ``resize`` | ``stretch`` (whole picture to the input size) or ``crop`` (centre square crop first) | stretch |
| ``invert`` | true: use 255 - pixel | false |
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, JsonValue, TypeAdapter, ValidationError

from edgekit.errors import InputError

# Deeper than any record edgekit writes by far; shallow enough that nothing downstream can recurse out.
MAX_DEPTH = 64
COLORS = ("rgb", "bgr", "grayscale")
RESIZES = ("stretch", "crop")
HONOURED = ("scale", "mean", "std", "color", "resize", "invert")

_EXPECTED = {
    "float_type": "a number", "float_parsing": "a number", "int_type": "an integer", "int_parsing": "an integer",
    "int_from_float": "an integer", "string_type": "a string", "bool_type": "true or false",
    "list_type": "a list", "dict_type": "an object", "model_type": "an object", "model_attributes_type": "an object",
    "finite_number": "a finite number (no NaN/Infinity)", "missing": "present (it is required)",
    "none_required": "null", "invalid-json-value": "a JSON value", "too_short": "a non-empty value",
    "string_pattern_mismatch": "a non-blank string", "extra_forbidden": "absent (not a known key)",
}
_TAG = re.compile(r"^(str|int|float|bool|list|dict|none|[a-z-]+\[.*\])$")


def _field(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif not _TAG.match(part):  # pydantic names union members in the location: not a field
            out += f".{part}" if out else part
    return out


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


_BOUND = {"greater_than_equal": "a number >= {ge}", "greater_than": "a number > {gt}",
          "less_than_equal": "a number <= {le}", "less_than": "a number < {lt}"}


def describe(e: Any) -> tuple[str, str, str]:
    """(field, expected, received) of one pydantic error dict, in words a user can act on."""
    kind, ctx = e["type"], e.get("ctx", {})
    if kind == "literal_error":
        expected = f"one of {ctx['expected']}"
    elif kind in _BOUND:
        expected = _BOUND[kind].format(**ctx)
    elif kind == "value_error":
        expected = str(ctx.get("error", e["msg"]))
    else:
        expected = _EXPECTED.get(kind, e["msg"])
    received = "nothing" if kind == "missing" else _short(e["input"])
    return _field(tuple(e["loc"])), expected, received


def one_line(err: ValidationError, where: str) -> str:
    """``where: FIELD: expected TYPE, received VALUE`` for the first error (``+N more`` when there are more)."""
    errors = err.errors(include_url=False)
    field, expected, received = describe(errors[0])
    more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where}: {field + ': ' if field else ''}expected {expected}, received {received}{more}"


def validate(model: Any, data: Any, where: str) -> Any:
    """``model.model_validate(data)`` (or a TypeAdapter's ``validate_python``), failures as one InputError line."""
    try:
        if isinstance(model, TypeAdapter):
            return model.validate_python(data)
        return model.model_validate(data)
    except ValidationError as e:
        raise InputError(one_line(e, where)) from None


# ---------------------------------------------------------------------------------------------------------
# JSON in and out


def check_json(value: Any, where: str, max_depth: int = MAX_DEPTH) -> None:
    """Refuse nesting deeper than ``max_depth``, non-finite numbers and non-JSON types; iterative (no recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        v, depth = stack.pop()
        if isinstance(v, dict | list):
            if depth > max_depth:
                raise InputError(f"{where}: nested deeper than {max_depth} levels; give a flat JSON document")
            items = v.values() if isinstance(v, dict) else v
            if isinstance(v, dict) and not all(isinstance(k, str) for k in v):
                raise InputError(f"{where}: object keys must be strings")
            stack.extend((x, depth + 1) for x in items)
        elif isinstance(v, float) and not math.isfinite(v):
            raise InputError(f"{where}: holds {v!r}, which is not valid JSON; give finite numbers")
        elif not (v is None or isinstance(v, str | int | float)):
            raise InputError(f"{where}: holds a {type(v).__name__}, which is not a JSON value")


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number; give finite numbers")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} overflows a 64-bit float; give finite numbers")
    return value


def loads_json(text: str, where: str) -> Any:
    """Strict JSON: no NaN/Infinity (nor numbers that overflow to it), at most MAX_DEPTH levels."""
    try:
        doc = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except RecursionError:
        raise InputError(f"{where}: nested too deeply to read (over {MAX_DEPTH} levels); give a flat JSON "
                         "document") from None
    except ValueError as e:  # JSONDecodeError is a ValueError, so are the refusals above
        raise InputError(f"{where}: not valid JSON ({e})") from None
    check_json(doc, where)
    return doc


def read_json(path: Path, where: str) -> Any:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"{where}: cannot read it ({e})") from None
    return loads_json(text, where)


def dumps_json(data: Any, indent: int | None = 2, default: Any = None) -> str:
    """JSON text for a file edgekit writes: NaN/Infinity are refused (they are not JSON), never written."""
    try:
        return json.dumps(data, indent=indent, allow_nan=False, default=default)
    except ValueError as e:
        raise InputError(f"refusing to write invalid JSON ({e}); a non-finite number reached an output "
                         "record") from None


def finite_or_none(value: Any) -> Any:
    """A copy with every NaN/Infinity float replaced by None: for measured values (a diverged loss)."""
    if isinstance(value, dict):
        return {k: finite_or_none(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite_or_none(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


# ---------------------------------------------------------------------------------------------------------
# Labels


def _no_line_breaks(v: Any) -> Any:
    if isinstance(v, str) and ("\n" in v or "\r" in v):
        raise ValueError("a label without line breaks (labels.txt holds one per line)")
    return v


Label = Annotated[str, BeforeValidator(_no_line_breaks), Field(strict=True)]
LABELS = TypeAdapter(Annotated[list[Label], Field(min_length=1)])


def read_labels(path: Path | None, option: str = "--labels") -> list[str] | None:
    """A .json list of strings, or a text file with one label per line (blank lines skipped)."""
    if path is None:
        return None
    path = Path(path)
    where = f"{option} {path}"
    if path.suffix == ".json":
        return validate(LABELS, read_json(path, where), where)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"{where}: cannot read it ({e})") from None
    labels = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if not labels:
        raise InputError(f"{where} is empty; give one label per line")
    return labels


# ---------------------------------------------------------------------------------------------------------
# The preprocessing record


def _as_list(v: Any) -> Any:
    return v if isinstance(v, list) else [v]


def _nonzero(v: Any) -> Any:
    values = v if isinstance(v, list) else [v]
    if any(x == 0 for x in values if isinstance(x, int | float) and not isinstance(x, bool)):
        raise ValueError("a non-zero number")
    return v


Number = Annotated[float, Field(strict=True, allow_inf_nan=False)]
PerChannel = Annotated[list[Number], BeforeValidator(_as_list), Field(min_length=1, max_length=4)]


class PreprocessingRecord(BaseModel):
    """What an app does to raw input before the model: honoured keys typed, any other key free-form JSON."""

    model_config = ConfigDict(extra="allow", strict=True, allow_inf_nan=False)
    __pydantic_extra__: dict[str, JsonValue]

    scale: Annotated[Number | None, BeforeValidator(_nonzero)] = None
    mean: PerChannel | None = None
    std: Annotated[PerChannel | None, BeforeValidator(_nonzero)] = None
    color: Literal["rgb", "bgr", "grayscale"] | None = None
    resize: Literal["stretch", "crop"] | None = None
    invert: bool | None = None


def check_preprocessing(doc: Any, where: str) -> dict[str, Any]:
    """The record as given (a JSON object), once it passes the schema; raises InputError otherwise."""
    if not isinstance(doc, dict):
        raise InputError(f"{where}: expected a JSON object, received {type(doc).__name__} {_short(doc)}")
    check_json(doc, where)
    validate(PreprocessingRecord, doc, where)
    return doc


def read_preprocessing(path: Path | None, option: str = "--preprocessing") -> dict[str, Any] | None:
    if path is None:
        return None
    where = f"{option} {path}"
    return check_preprocessing(read_json(Path(path), where), where)


# ---------------------------------------------------------------------------------------------------------
# train.json: what `edgekit convert FOLDER` takes from an `edgekit train` folder


def _plain_name(v: Any) -> Any:
    if isinstance(v, str) and (v in ("", ".", "..") or "/" in v or "\\" in v):
        raise ValueError("a file name inside the folder (no path separators, not . or ..)")
    return v


class TrainRecord(BaseModel):
    """The part of train.json that convert reads; the rest (metrics, history, host) is free-form."""

    model_config = ConfigDict(extra="allow", strict=True, allow_inf_nan=False)
    files: dict[str, Annotated[str, BeforeValidator(_plain_name)] | None]
    formats: str | None = None
    golden_samples: Annotated[int, Field(ge=0)] | None = None
    int8_max_drop: Annotated[float, Field(ge=0, le=100)] | None = None  # the recipe's [export] budget
    int8_weights: Literal["per-channel", "per-tensor", "auto"] | None = None


def read_train_record(path: Path) -> TrainRecord:
    where = f"{path} is not a readable `edgekit train` record (re-run edgekit train)"
    return validate(TrainRecord, read_json(path, where), where)


# ---------------------------------------------------------------------------------------------------------
# TF_CONFIG: the multi-worker cluster (TensorFlow's documented format)


class TFTask(BaseModel):
    model_config = ConfigDict(strict=True, extra="allow")
    type: str = "worker"
    index: Annotated[int, Field(ge=0)] = 0


class TFConfig(BaseModel):
    model_config = ConfigDict(strict=True, extra="allow", allow_inf_nan=False)
    cluster: dict[str, list[str]] = {}
    task: TFTask = TFTask()


def read_tf_config(raw: str) -> TFConfig:
    where = "TF_CONFIG (environment variable)"
    return validate(TFConfig, loads_json(raw, where), where)


__all__ = ["COLORS", "HONOURED", "LABELS", "MAX_DEPTH", "RESIZES", "PreprocessingRecord", "TFConfig", "TrainRecord",
           "check_json", "check_preprocessing", "describe", "dumps_json", "finite_or_none", "loads_json", "one_line",
           "read_json", "read_labels", "read_preprocessing", "read_tf_config", "read_train_record", "validate"]
