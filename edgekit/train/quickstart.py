"""``edgekit quickstart``: train the built-in digits recipe, convert it to every format, validate on CPU.

Offline on a fresh machine: the data is scikit-learn's bundled digits and the network trains from scratch.
Each step is the library call behind the matching command, so what it prints is what
``edgekit train digits``, ``edgekit convert`` and ``edgekit validate`` print.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

QUICKSTART_RECIPE = "digits"


@dataclass
class QuickstartOptions:
    out: Path = Path("quickstart-out")
    recipe: str = QUICKSTART_RECIPE
    overrides: list[str] = field(default_factory=list)
    force: bool = False
    progress: bool = True
    validate_runs: int = 50
    validate_min_time: float = 1.0
    tolerances: list[str] = field(default_factory=list)  # validate --tol, passed through


def quickstart(opts: QuickstartOptions, say: Any = print) -> dict[str, Any]:
    """Returns {'train': TrainResult, 'convert': ConvertResult, 'report': dict, 'seconds': {...}}."""
    from edgekit.console import print_convert_summary
    from edgekit.convert import ConvertOptions, convert
    from edgekit.outdir import check_out
    from edgekit.protocol import BenchSettings
    from edgekit.report import print_console
    from edgekit.train import TrainOptions, load_recipe, train
    from edgekit.validate import ValidateOptions, validate

    t0 = time.perf_counter()
    recipe = load_recipe(opts.recipe, opts.overrides)
    check_out(opts.out, opts.force)
    m = recipe.model
    say(f"edgekit quickstart: {recipe.description or recipe.name}")
    say(f"\n[1/3] edgekit train {opts.recipe} --out {opts.out}")
    tr = train(recipe, TrainOptions(out=opts.out, force=opts.force, log=say))
    acc = tr.metrics.get("holdout_accuracy")
    say(f"trained in {tr.seconds:.0f} s ({tr.metrics.get('epochs_run')} epochs, MobileNetV2 alpha {m.get('alpha')} "
        f"{m.get('input_size')}x{m.get('input_size')}, weights {m.get('weights')}): hold-out accuracy {acc:.3f} on "
        f"{tr.metrics.get('holdout_samples')} digits never seen in training or calibration")
    t_train = time.perf_counter() - t0

    say(f"\n[2/3] edgekit convert {opts.out}")
    cr = convert(opts.out, None, ConvertOptions(progress=opts.progress))
    print_convert_summary(cr)
    t_convert = time.perf_counter() - t0 - t_train

    say(f"\n[3/3] edgekit validate {cr.out}")
    report = validate(cr.out, ValidateOptions(bench=BenchSettings(runs=opts.validate_runs,
                                                                  min_time=opts.validate_min_time),
                                              tolerances=list(opts.tolerances)))
    print_console(report, as_json=False)
    total = time.perf_counter() - t0
    say(f"\nquickstart done in {total:.0f} s (train {t_train:.0f} s, convert {t_convert:.0f} s, validate "
        f"{total - t_train - t_convert:.0f} s). Open {Path(report['report_dir']) / 'report.html'}")
    say("your own images: edgekit train image-classifier --data PATH/TO/CLASS_FOLDERS (see docs/recipes.md)")
    return {"train": tr, "convert": cr, "report": report,
            "seconds": {"train": t_train, "convert": t_convert, "total": total}}
