"""What a conversion computes for validation: the calibration and golden sets, the SOURCE model's outputs on
the golden inputs, and the golden files in the output folder (readers: edgekit.manifest and validate).

Golden inputs are never used for calibration; reference outputs come from the Keras model itself when there
is one, so every artifact, the SavedModel included, is judged against the source.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from edgekit import manifest as mf
from edgekit.data import DataSet, load_dataset, random_dataset, split_golden
from edgekit.errors import ConversionError

GOLDEN_LABELS = "golden_labels.npy"


def datasets(opts: Any, inputs: list[mf.TensorSpec], warnings: list[str]) -> tuple[DataSet | None,
                                                                                              DataSet]:
    """(calibration, golden). Golden inputs are never used for calibration."""
    calib: DataSet | None = None
    golden: DataSet | None = None
    if opts.golden:
        golden = load_dataset(opts.golden, inputs, "golden")
        if golden.samples > opts.golden_samples:
            golden = golden.take(np.arange(opts.golden_samples))
    if opts.calibration:
        calib = load_dataset(opts.calibration, inputs, "calibration", allow_random=True,
                             random_samples=opts.calibration_samples, seed=opts.seed)
        if golden is None and calib.source != "random":
            calib, golden = split_golden(calib, opts.golden_samples, opts.seed)
            warnings.extend(calib.warnings)
        if calib.samples > opts.calibration_samples:
            idx = np.sort(np.random.default_rng(opts.seed).permutation(calib.samples)[:opts.calibration_samples])
            calib = calib.take(idx)
        if calib.source == "random":
            warnings.append("int8 was calibrated on RANDOM data (--calibration random): its accuracy on real "
                            "inputs is unknown until validated on real data")
    if golden is None:
        golden = random_dataset(inputs, opts.golden_samples, opts.seed + 1, what="golden")
        golden.warnings = []
        warnings.append("golden inputs are random noise (no --golden and no real calibration data): parity on "
                        "noise is weaker evidence than parity on real inputs; give --golden")
    return calib, golden


def reference_outputs(source: Any, loaded: Any, inputs: list[mf.TensorSpec], outputs: list[mf.TensorSpec],
                       arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The SOURCE model's outputs on the golden inputs (the Keras model itself when there is one)."""
    from edgekit.source import run_signature

    if source.keras_model is None:
        return run_signature(loaded.signatures["serving_default"], inputs, outputs, arrays)
    model = source.keras_model
    feed: Any = [arrays[t.name] for t in inputs]
    if len(feed) == 1:
        feed = feed[0]
    elif len(model.inputs) == len(inputs):
        # Keras' own input order, matched by name.
        order = [t.name.split(":")[0] for t in model.inputs]
        feed = [arrays[n] for n in order]
    # Eager calls in inference mode: model.predict would trace a tf.function first, for nothing.
    n = next(iter(arrays.values())).shape[0]
    chunks: list[list[np.ndarray]] = []
    for i in range(0, n, 32):
        part = [f[i:i + 32] for f in feed] if isinstance(feed, list) else feed[i:i + 32]
        res = model(part, training=False)
        res = list(res.values()) if isinstance(res, dict) else (list(res) if isinstance(res, list | tuple) else [res])
        chunks.append([np.asarray(r) for r in res])
    res_list = [np.concatenate(parts, axis=0) for parts in zip(*chunks, strict=True)]
    if len(res_list) != len(outputs):
        raise ConversionError(f"the Keras model returned {len(res_list)} outputs but its export has {len(outputs)}")
    return {o.name: np.asarray(r) for o, r in zip(outputs, res_list, strict=True)}


def warn_degenerate(reference: dict[str, np.ndarray], warnings: list[str]) -> None:
    for name, arr in reference.items():
        if arr.shape[0] > 1 and np.allclose(arr, arr[:1], rtol=1e-5, atol=1e-6):
            warnings.append(f"output {name!r} is the same for every golden input: parity checks on it prove "
                            "nothing (untrained model, or golden inputs that don't exercise it)")


def write(staging: Any, golden: DataSet, reference: dict[str, np.ndarray]) -> dict[str, Any]:
    """Save golden inputs, reference outputs and golden labels under ``staging``; the manifest's golden record."""
    files = {"inputs": mf.GOLDEN_INPUTS, "outputs": mf.REFERENCE_OUTPUTS}
    np.savez(staging / mf.GOLDEN_INPUTS, **golden.arrays)
    np.savez(staging / mf.REFERENCE_OUTPUTS, **reference)
    if golden.labels is not None:
        np.save(staging / GOLDEN_LABELS, golden.labels)
        files["labels"] = GOLDEN_LABELS
    return {
        **files,
        "labels": files.get("labels"),
        "samples": golden.samples,
        "source": golden.source,
        "random": golden.source == "random",
        "sha256": {f: mf.sha256_file(staging / f) for f in files.values()},
    }


def natural_key(name: str) -> list[Any]:
    """'output_10' after 'output_2': signature outputs in the order a person reads them."""
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name)]
