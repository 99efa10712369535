"""The recipe engine: ``train(recipe, TrainOptions)`` -> an output folder ``edgekit convert`` reads as is.

Heavy imports (TensorFlow, Keras) happen inside the functions, so importing this package is cheap.
"""

from __future__ import annotations

from pathlib import Path

from edgekit.train.engine import TRAIN_MARKER, TrainOptions, TrainResult
from edgekit.train.recipe import Recipe, builtin_names, load_recipe
from edgekit.verbs import callable_module

__all__ = ["TRAIN_MARKER", "Recipe", "TrainOptions", "TrainResult", "builtin_names", "load_recipe", "train"]


def train(recipe_spec: str | Path | Recipe, opts: TrainOptions | None = None) -> TrainResult:
    """Train a recipe (built-in name, .toml path or a parsed Recipe) into ``opts.out``."""
    from edgekit.convert import quiet_tensorflow
    from edgekit.outdir import check_out, native_stderr_to
    from edgekit.train import engine

    opts = opts or TrainOptions()
    overrides = list(opts.overrides)
    if opts.data:
        overrides.append(f"data.source={_toml_string(opts.data)}")
    if isinstance(recipe_spec, Recipe):
        recipe = recipe_spec
        if overrides:
            from edgekit.train.recipe import parse_recipe

            doc = {"recipe": {"task": recipe.task, "name": recipe.name, "seed": recipe.seed,
                              "description": recipe.description}, **recipe.sections}
            recipe = parse_recipe(doc, recipe.path, overrides)
    else:
        recipe = load_recipe(recipe_spec, overrides)
    out = Path(opts.out) if opts.out else Path(f"{recipe.name}-out")
    if opts.strategy not in engine.STRATEGIES:
        raise engine.InputError(f"--strategy {opts.strategy!r} is not one of {', '.join(engine.STRATEGIES)}")
    src = str(recipe.data["source"])
    # --force must never delete the training data (or a weights file) that lives inside --out.
    check_out(out, opts.force, [recipe.resolve_path(v) for v in (src, str(recipe.model.get("weights", "")))
                                       if v and not v.startswith("builtin:") and v not in ("imagenet", "none")])
    quiet_tensorflow()
    clock = engine.Clock()
    with engine.staging_folder(out, opts.log) as staging, native_stderr_to(staging / engine.TRAIN_LOG):
        # TensorFlow's C++ start-up chatter goes to FOLDER/train.log; the strategy comes before any other
        # TensorFlow op (MultiWorkerMirroredStrategy requires it).
        strategy = engine.make_strategy(opts.strategy)
        if recipe.task == "image_classifier":
            from edgekit.train.image import train_image as run
        elif recipe.task == "sequence_classifier":
            from edgekit.train.sequence import train_sequence as run
        elif recipe.task == "text_classifier":
            from edgekit.train.text import train_text as run
        else:
            from edgekit.train.forecast import train_forecast as run
        doc = run(recipe, opts, strategy, staging, clock)
        doc["strategy"] = {"name": opts.strategy, "replicas": int(strategy.num_replicas_in_sync)}
        doc["seconds"] = {**clock.phases, "total": clock.total}
        engine.rewrite_marker(staging, doc)
    return TrainResult(out=out, recipe=recipe.name, task=recipe.task, metrics=doc["metrics"], info=doc,
                       seconds=clock.total)


def _toml_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


callable_module(__name__)  # edgekit.train(...) at the package root runs edgekit.api.train
