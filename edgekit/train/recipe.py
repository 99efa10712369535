"""Recipe files: TOML, one schema per task, unknown keys refused with the valid ones named.

A recipe is ``[recipe]`` (task, name, seed, description) plus task sections (``[data]``, ``[model]``,
``[train]``, ``[augment]``). Every key has a default here, so a recipe file only states what differs.
Built-in recipes ship as package data (``edgekit/data/recipes`` points at the top-level ``recipes/``).
"""

from __future__ import annotations

import copy
import functools
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import pydantic

from edgekit.errors import InputError

TASKS = ("image_classifier", "sequence_classifier", "forecaster", "text_classifier")

# The keys every task shares. Values are defaults; their Python type is the accepted type.
_COMMON_TRAIN: dict[str, Any] = {
    "epochs": 20,
    "batch_size": 32,
    "learning_rate": 1e-3,
    "patience": 5,  # EarlyStopping on val_loss; ReduceLROnPlateau waits half as long
    "validation_split": 0.1,  # of what remains after the golden hold-out
}
_COMMON_DATA: dict[str, Any] = {
    "source": "",
    "holdout": 0.15,  # the golden set: never trained or calibrated on
    "calibration_samples": 200,  # drawn from the training split
}
# What `edgekit convert FOLDER` produces when --formats is not given. TF.js 4.22 cannot run Keras 3 LSTM
# graphs (wasm: "_FusedMatMul only supports rank-1 bias"), so the LSTM recipes leave it out by default.
_RNN_FORMATS = "saved_model,tflite,onnx"
# The int8 accuracy budget convert applies (--int8-max-drop, --int8-weights; docs/quant-debug.md).
# TOML has no null: a negative int8_max_drop means no budget.
_INT8_EXPORT: dict[str, Any] = {"int8_max_drop": -1.0, "int8_weights": "per-channel"}

SCHEMAS: dict[str, dict[str, dict[str, Any]]] = {
    "image_classifier": {
        "data": {**_COMMON_DATA, "source": "builtin:digits", "max_bad_fraction": 0.1},
        "model": {
            "alpha": 0.35,
            "input_size": 96,
            "weights": "imagenet",  # imagenet | none | a local .h5/.weights.h5 file for the base
            "dropout": 0.2,
            # With weights = "none" there is no pretrained base: BatchNorm statistics start from nothing
            # and a few hundred steps at Keras' 0.99 momentum leave them far from the data's.
            "bn_momentum": 0.9,
        },
        "train": {
            **_COMMON_TRAIN,
            "fine_tune_layers": 0,  # phase two: unfreeze the top N layers of the base
            "fine_tune_epochs": 0,
            "fine_tune_learning_rate": 1e-5,
        },
        "augment": {"flip": False, "rotate": 0.03, "translate": 0.08, "zoom": 0.1, "contrast": 0.0},
        "export": {"formats": "all", **_INT8_EXPORT},
    },
    "sequence_classifier": {
        "data": {**_COMMON_DATA, "source": "builtin:digit-rows", "tokenizer": "words", "sequence_length": 8,
                 "max_vocab": 2000, "lowercase": True},
        "model": {"embedding_dim": 16, "units": 32, "dropout": 0.1},
        "train": {**_COMMON_TRAIN, "epochs": 30, "learning_rate": 3e-3},
        "export": {"formats": _RNN_FORMATS, **_INT8_EXPORT},
    },
    "forecaster": {
        "data": {**_COMMON_DATA, "source": "builtin:sunspots", "column": "", "window": 24, "horizon": 1},
        "model": {"units": 32, "dropout": 0.0},
        "train": {**_COMMON_TRAIN, "epochs": 60, "learning_rate": 3e-3, "patience": 10, "batch_size": 16},
        "export": {"formats": _RNN_FORMATS, **_INT8_EXPORT},
    },
    "text_classifier": {  # raw strings in, TextVectorization inside (edgekit/train/text.py, docs/text.md)
        "data": {**_COMMON_DATA, "source": "builtin:stdlib-docs", "per_class": 400, "max_tokens": 5000,
                 "sequence_length": 32, "standardize": "lower_and_strip_punctuation"},
        "model": {"embedding_dim": 32, "units": 16, "dropout": 0.2},
        "train": {**_COMMON_TRAIN, "epochs": 12, "learning_rate": 5e-3, "patience": 3},
        "export": {"formats": "all", **_INT8_EXPORT},
    },
}
TEXT_STANDARDIZE = ("lower_and_strip_punctuation", "lower", "strip_punctuation", "none")
_PATH_KEYS = {"data.source", "model.weights"}
RECIPE_KEYS: dict[str, Any] = {"task": "", "name": "", "seed": 0, "description": ""}

# Ranges, as pydantic Field constraints; every number must also be finite. Seeds stay well inside 32 bits:
# numpy and TF take them, and the engine derives seed + 1 and seed + 2.
_BOUNDS: dict[str, dict[str, float]] = {
    "recipe.seed": {"ge": 0, "le": 2_000_000_000},
    "train.epochs": {"ge": 1, "le": 100_000}, "train.batch_size": {"ge": 1, "le": 65_536},
    "train.learning_rate": {"gt": 0, "le": 10}, "train.patience": {"ge": 0, "le": 100_000},
    "train.validation_split": {"ge": 0, "lt": 0.5}, "train.fine_tune_layers": {"ge": 0, "le": 10_000},
    "train.fine_tune_epochs": {"ge": 0, "le": 100_000}, "train.fine_tune_learning_rate": {"gt": 0, "le": 10},
    "data.holdout": {"gt": 0, "lt": 0.5}, "data.calibration_samples": {"ge": 1, "le": 1_000_000},
    "data.max_bad_fraction": {"ge": 0, "le": 1}, "data.sequence_length": {"ge": 1, "le": 100_000},
    "data.max_vocab": {"ge": 3, "le": 10_000_000}, "data.window": {"ge": 2, "le": 1_000_000},
    "data.horizon": {"ge": 1, "le": 100_000}, "data.per_class": {"ge": 2, "le": 1_000_000},
    "data.max_tokens": {"ge": 3, "le": 10_000_000},
    "model.input_size": {"ge": 32, "le": 2048}, "model.dropout": {"ge": 0, "lt": 1},
    "model.bn_momentum": {"ge": 0, "lt": 1}, "model.units": {"ge": 1, "le": 65_536},
    "model.embedding_dim": {"ge": 1, "le": 65_536},
    "augment.rotate": {"ge": 0, "le": 1}, "augment.translate": {"ge": 0, "le": 1}, "augment.zoom": {"ge": 0, "le": 1},
    "augment.contrast": {"ge": 0, "le": 1}, "export.int8_max_drop": {"ge": -1, "le": 100},
}
_WHY = {"greater_than_equal": "must be at least {ge}", "greater_than": "must be greater than {gt}",
        "less_than_equal": "must be at most {le}", "less_than": "must be less than {lt}",
        "finite_number": "must be a finite number"}


@functools.cache
def _section_schema(section: str, task: str) -> type[pydantic.BaseModel]:
    """The strict pydantic schema of one table, derived from its defaults (their type is the accepted type)."""
    defaults = RECIPE_KEYS if section == "recipe" else SCHEMAS[task][section]
    fields = {k: (type(v), pydantic.Field(v, **_BOUNDS.get(f"{section}.{k}", {}))) for k, v in defaults.items()}
    config = pydantic.ConfigDict(strict=True, extra="forbid", allow_inf_nan=False)
    return pydantic.create_model(f"{task}_{section}", __config__=config, **fields)


@dataclass
class Recipe:
    task: str
    name: str
    seed: int
    description: str
    sections: dict[str, dict[str, Any]]
    path: Path | None = None  # the file it came from; data paths are relative to its folder
    overrides: list[str] = field(default_factory=list)

    def __getattr__(self, name: str) -> dict[str, Any]:
        # recipe.data / recipe.model / recipe.train / recipe.augment
        sections = self.__dict__.get("sections", {})
        if name in sections:
            return sections[name]
        raise AttributeError(name)

    def resolve_path(self, value: str) -> Path:
        p = Path(value).expanduser()
        if not p.is_absolute() and self.path is not None:
            p = self.path.parent / p
        return p

    def to_toml(self) -> str:
        """The resolved recipe (every key, defaults included): what was actually trained."""
        lines = ["[recipe]"]
        for k, v in (("task", self.task), ("name", self.name), ("seed", self.seed),
                     ("description", self.description)):
            lines.append(f"{k} = {_toml_value(v)}")
        for section, body in self.sections.items():
            lines.append(f"\n[{section}]")
            lines += [f"{k} = {_toml_value(v)}" for k, v in body.items()]
        return "\n".join(lines) + "\n"


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'


def builtin_dir() -> Path:
    return Path(str(resources.files("edgekit").joinpath("data/recipes")))


def builtin_names() -> list[str]:
    d = builtin_dir()
    return sorted(p.stem for p in d.glob("*.toml")) if d.is_dir() else []


def load_recipe(spec: str | Path, overrides: list[str] | None = None) -> Recipe:
    """A built-in recipe name or a .toml path, with ``section.key=value`` overrides applied."""
    spec_s = str(spec)
    path = Path(spec_s)
    if path.suffix != ".toml" and "/" not in spec_s:
        candidate = builtin_dir() / f"{spec_s}.toml"
        if not candidate.is_file():
            raise InputError(f"unknown recipe {spec_s!r}; built-in recipes: {', '.join(builtin_names())}, or give "
                             "a path to a .toml recipe file")
        path = candidate
    if not path.is_file():
        raise InputError(f"recipe file {path} does not exist; built-in recipes: {', '.join(builtin_names())}")
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise InputError(f"recipe {path}: not a readable TOML file ({e})") from e
    return parse_recipe(doc, path, overrides or [])


def parse_recipe(doc: dict[str, Any], path: Path | None, overrides: list[str]) -> Recipe:
    where = f"recipe {path}" if path else "recipe"
    head = doc.get("recipe")
    if not isinstance(head, dict):
        raise InputError(f"{where}: missing the [recipe] table with task = one of {', '.join(TASKS)}")
    task = head.get("task")
    if task not in TASKS:
        raise InputError(f"{where}: [recipe] task = {task!r} is not one of {', '.join(TASKS)}")
    schema = SCHEMAS[task]
    unknown_sections = sorted(set(doc) - set(schema) - {"recipe"})
    if unknown_sections:
        raise InputError(f"{where}: unknown table(s) {unknown_sections}; valid tables for {task}: "
                         f"[recipe], {', '.join(f'[{s}]' for s in schema)}")
    head = _checked("recipe", head, RECIPE_KEYS, where)
    sections = {s: _checked(s, doc.get(s, {}), defaults, where) for s, defaults in schema.items()}
    given = {_apply_override(sections, head, item, schema) for item in overrides}
    head = _validated("recipe", task, head, where, given)
    sections = {s: _validated(s, task, body, where, given) for s, body in sections.items()}
    recipe = Recipe(task=task, name=str(head["name"] or (path.stem if path else task)), seed=int(head["seed"]),
                    description=str(head["description"]), sections=sections, path=path, overrides=list(overrides))
    _check_values(recipe, where)
    return recipe


def _checked(section: str, body: Any, defaults: dict[str, Any], where: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise InputError(f"{where}: [{section}] must be a table")
    unknown = sorted(set(body) - set(defaults))
    if unknown:
        raise InputError(f"{where}: unknown key(s) {', '.join(f'{section}.{k}' for k in unknown)}; valid keys in "
                         f"[{section}]: {', '.join(sorted(defaults))}")
    out = copy.deepcopy(defaults)
    out.update(body)
    return out


def _validated(section: str, task: str, body: dict[str, Any], where: str, overridden: set[str]) -> dict[str, Any]:
    """``body`` through its table's schema: one line naming the key, the value and what it should be."""
    try:
        return _section_schema(section, task).model_validate(body).model_dump()
    except pydantic.ValidationError as e:
        err = e.errors(include_url=False)[0]
        key, value = err["loc"][0], err["input"]
        default = (RECIPE_KEYS if section == "recipe" else SCHEMAS[task][section])[key]
        why = _WHY.get(err["type"], "").format(**err.get("ctx", {}))
        if not why:
            why = f"should be a {type(default).__name__} (default {default!r})"
        source = "--set" if f"{section}.{key}" in overridden else where
        raise InputError(f"{source}: {section}.{key} = {value!r} {why}") from None


def _apply_override(sections: dict[str, dict[str, Any]], head: dict[str, Any], item: str,
                    schema: dict[str, dict[str, Any]]) -> str:
    """``--set train.epochs=3``: the value is parsed as TOML (numbers, true/false), else taken as a string."""
    key, sep, raw = item.partition("=")
    section, dot, name = key.strip().partition(".")
    if not sep or not dot:
        raise InputError(f"--set {item!r}: expected SECTION.KEY=VALUE, e.g. train.epochs=3")
    if section == "recipe":
        target, defaults = head, RECIPE_KEYS
    elif section in schema:
        target, defaults = sections[section], schema[section]
    else:
        raise InputError(f"--set {item!r}: unknown table {section!r}; valid: recipe, {', '.join(schema)}")
    if name not in defaults:
        raise InputError(f"--set {item!r}: unknown key {section}.{name}; valid keys in [{section}]: "
                         f"{', '.join(sorted(defaults))}")
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    if f"{section}.{name}" in _PATH_KEYS and isinstance(value, str) and value not in ("imagenet", "none") \
            and not value.startswith("builtin:"):
        # A path typed on the command line is relative to the working directory, not to the recipe file.
        value = str(Path(value).expanduser().resolve())
    target[name] = value
    return f"{section}.{name}"


def _check_values(r: Recipe, where: str) -> None:
    def bad(key: str, value: Any, why: str) -> InputError:
        return InputError(f"{where}: {key} = {value!r} {why}")

    d = r.data
    try:
        from edgekit.formats import parse_formats

        parse_formats(r.export["formats"])
    except InputError as e:
        raise bad("export.formats", r.export["formats"], f"is not valid: {e}") from e
    if r.export["int8_weights"] not in ("per-channel", "per-tensor", "auto"):
        raise bad("export.int8_weights", r.export["int8_weights"], "is not one of per-channel, per-tensor, auto")
    if not d["source"]:
        raise bad("data.source", d["source"], "is empty; give a data folder/file or a builtin: source")
    if r.task == "image_classifier":
        m = r.model
        if m["alpha"] not in (0.35, 0.5, 0.75, 1.0, 1.3, 1.4):
            raise bad("model.alpha", m["alpha"], "is not a MobileNetV2 width (0.35, 0.5, 0.75, 1.0, 1.3, 1.4)")
    if r.task == "text_classifier":
        if d["standardize"] not in TEXT_STANDARDIZE:
            raise bad("data.standardize", d["standardize"], f"is not one of {', '.join(TEXT_STANDARDIZE)}")
    if r.task == "sequence_classifier":
        if d["tokenizer"] not in ("words", "chars"):
            raise bad("data.tokenizer", d["tokenizer"], "is not one of words, chars")

