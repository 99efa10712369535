"""Run a converted artifact directly in its own runtime (independent of edgekit validate), for convert tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgekit.manifest import Artifact, Manifest


def run_tflite(folder: Path, m: Manifest, art: Artifact, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_path=str(folder / art.path), num_threads=2)
    it.allocate_tensors()  # reset_all_variables needs allocated tensors
    runner = it.get_signature_runner("serving_default")
    qin = {q.name: q for q in art.quantization["inputs"]}
    qout = {q.name: q for q in art.quantization["outputs"]}
    n = next(iter(inputs.values())).shape[0]
    outs: dict[str, list[np.ndarray]] = {o.name: [] for o in m.outputs}
    in_names = art.io_names["inputs"]
    out_names = art.io_names["outputs"]
    for i in range(n):
        feed = {}
        for spec, tname in zip(m.inputs, in_names, strict=True):
            x = inputs[spec.name][i:i + 1]
            if spec.name in qin:
                q = qin[spec.name]
                info = np.iinfo(q.dtype)
                x = np.clip(np.round(x / q.scale + q.zero_point), info.min, info.max).astype(q.dtype)
            feed[tname] = x
        if art.requires_state_reset:
            it.reset_all_variables()
        res = runner(**feed)
        for spec, tname in zip(m.outputs, out_names, strict=True):
            y = res[tname]
            if spec.name in qout:
                q = qout[spec.name]
                y = (y.astype(np.float32) - q.zero_point) * q.scale
            outs[spec.name].append(y)
    return {k: np.concatenate(v) for k, v in outs.items()}


def run_onnx(folder: Path, m: Manifest, art: Artifact, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    import onnxruntime as ort

    sess = ort.InferenceSession(str(folder / art.path), providers=["CPUExecutionProvider"])
    feed = {t: inputs[s.name] for s, t in zip(m.inputs, art.io_names["inputs"], strict=True)}
    res = sess.run(art.io_names["outputs"], feed)
    return {s.name: r for s, r in zip(m.outputs, res, strict=True)}


def run_saved_model(folder: Path, m: Manifest, art: Artifact, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    import tensorflow as tf

    fn = tf.saved_model.load(str(folder / art.path)).signatures["serving_default"]
    res = fn(**{k: tf.constant(v) for k, v in inputs.items()})
    return {s.name: res[s.name].numpy() for s in m.outputs}


def run_tfjs(folder: Path, m: Manifest, art: Artifact, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """TF.js in Node (wasm backend), through the project's runner; feeds/fetches by the recorded io_names."""
    from edgekit.runtimes import tfjs_node
    from edgekit.runtimes.tfjs_node import TfjsNodeRunner
    from tests.helpers import require

    runner = TfjsNodeRunner()
    reason = tfjs_node.unavailable_reason()
    require(reason is None, f"TF.js in Node: {reason}")
    res = runner.run(folder / art.path, {t: inputs[s.name] for s, t in zip(m.inputs, art.io_names["inputs"],
                                                                            strict=True)},
                     art.io_names["inputs"], art.io_names["outputs"], backend="wasm", runs=1, warmup=0,
                     min_time=0.0, max_time=5.0, timeout=120.0, warmup_min_time=0.0)
    return {s.name: res.outputs[t] for s, t in zip(m.outputs, art.io_names["outputs"], strict=True)}


RUNNERS = {"tflite": run_tflite, "onnx": run_onnx, "saved_model": run_saved_model, "tfjs": run_tfjs}


def load_golden(folder: Path) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    with np.load(folder / "golden_inputs.npz", allow_pickle=False) as g, \
            np.load(folder / "reference_outputs.npz", allow_pickle=False) as r:
        return {k: g[k] for k in g.files}, {k: r[k] for k in r.files}


def top1_agreement(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean(np.argmax(a, -1) == np.argmax(b, -1)))
