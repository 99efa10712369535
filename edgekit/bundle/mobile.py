"""The android and ios targets: TFLite model(s), labels, a JSON model card, Kotlin / Swift snippets.

TFLite metadata is not embedded in the .tflite files: the only maintained writer (tflite-support's
metadata writers) requires protobuf<4, which cannot be installed next to TensorFlow 2.19 (protobuf 5).
``model_card.json`` carries the same facts (labels, normalization, quantization) beside the files.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np

from edgekit import __version__
from edgekit import manifest as mf
from edgekit.bundle.common import BundleOptions, Source, copy_file, output_meaning
from edgekit.bundle.preprocess import resolve
from edgekit.errors import InputError
from edgekit.schemas import dumps_json

METADATA_REASON = ("not embedded in the .tflite: tflite-support (the maintained metadata writer) requires "
                   "protobuf<4 and cannot be installed with TensorFlow 2.19 (protobuf 5); this card is the "
                   "sidecar with the same facts")
NO_LABELS = "- no labels were recorded: classes are numbered."
_CTYPES = {"float32": 4, "int8": 1, "uint8": 1, "int32": 4, "int64": 8}
# Integer inputs that are not quantized values (token ids of a split text model): written as integers.
_KOTLIN_IDS = {"int32": "inBuf.putInt(x.toInt())", "int64": "inBuf.putLong(x.toLong())"}
_SWIFT_IDS = {"int32": "Int32", "int64": "Int64"}


def _tensor(spec: mf.TensorSpec, q: mf.QuantParams | None, tensor_name: str | None) -> dict[str, Any]:
    shape = [1 if d is None or d == -1 else int(d) for d in spec.shape]
    return {"name": spec.name, "tensor_name": tensor_name, "shape": shape,
            "dtype": q.dtype if q else spec.dtype, "real_dtype": spec.dtype,
            "quantization": {"scale": q.scale, "zero_point": q.zero_point} if q else None}


def model_entry(art: mf.Artifact, m: mf.Manifest, file: str) -> dict[str, Any]:
    qin = {q.name: q for q in art.quantization.get("inputs", [])}
    qout = {q.name: q for q in art.quantization.get("outputs", [])}
    io = art.io_names or {}
    names_in = io.get("inputs") or [None] * len(m.inputs)
    names_out = io.get("outputs") or [None] * len(m.outputs)
    return {
        "id": art.id, "variant": art.variant, "file": file, "bytes": art.bytes, "sha256": art.sha256,
        "inputs": [_tensor(s, qin.get(s.name), n) for s, n in zip(m.inputs, names_in, strict=False)],
        "outputs": [_tensor(s, qout.get(s.name), n) for s, n in zip(m.outputs, names_out, strict=False)],
        "requires_state_reset": art.requires_state_reset, "requires_flex": art.requires_flex,
        "notes": list(art.notes),
    }


def build_mobile(src: Source, out: Path, opts: BundleOptions) -> tuple[list[str], dict[str, Any]]:
    m = src.manifest
    if opts.artifacts:
        chosen = [m.artifact(i) for i in dict.fromkeys(opts.artifacts)]
        wrong = [a.id for a in chosen if a.format != "tflite"]
        if wrong:
            raise InputError(f"--artifact {', '.join(wrong)}: {opts.target} bundles take TFLite artifacts; "
                             f"produced: {', '.join(a.id for a in m.artifacts if a.format == 'tflite' and a.ok)}")
    else:
        chosen = [a for a in m.artifacts if a.format == "tflite" and a.ok]
        if not chosen:
            raise InputError(f"no TFLite artifact was produced in {src.folder}: convert with --formats tflite")
    paths = {a.id: src.artifact_path(a) for a in chosen}  # refuses failed, missing or modified ones

    _, reference = src.golden()
    image = len(m.inputs) == 1 and len(m.inputs[0].shape) == 4 and m.inputs[0].shape[3] in (1, 3)
    prep = resolve(m.preprocessing, int(m.inputs[0].shape[3])) if image else None
    models = []
    for a in chosen:
        rel = f"models/{paths[a.id].name}"
        copy_file(paths[a.id], out / rel)
        models.append(model_entry(a, m, rel))
    if src.labels:
        (out / "labels.txt").write_text("\n".join(src.labels) + "\n", encoding="utf-8")
    card = {
        "schema": 1,
        "generated_by": f"edgekit {__version__} bundle --target {opts.target}",
        "source": m.source,
        "labels": src.labels,
        "labels_file": "labels.txt" if src.labels else None,
        "outputs_meaning": {s.name: output_meaning(s, reference.get(s.name), src.labels) for s in m.outputs},
        "preprocessing": {
            "recorded": m.preprocessing,
            "applied": prep.to_dict() if prep else None,
            "formula": prep.formula() if prep else "feed the values the model was trained on (not an image input)",
        },
        "quantization_formula": {"quantize": "q = clip(round(x / scale) + zero_point, dtype min, dtype max)",
                                 "dequantize": "x = scale * (q - zero_point)"},
        "metadata": {"embedded_in_tflite": False, "reason": METADATA_REASON},
        "models": models,
    }
    (out / "model_card.json").write_text(dumps_json(card, indent=1) + "\n", encoding="utf-8")
    lang = "kotlin" if opts.target == "android" else "swift"
    snippets = []
    for entry in models:
        code = kotlin(entry, card, prep) if lang == "kotlin" else swift(entry, card, prep)
        fname = f"{lang}/{_class_name(entry)}.{'kt' if lang == 'kotlin' else 'swift'}"
        (out / fname).parent.mkdir(parents=True, exist_ok=True)
        (out / fname).write_text(code, encoding="utf-8")
        snippets.append(fname)
    text_facts = _write_readme(src, out, opts.target, card, snippets)
    notes = []
    if len(m.inputs) > 1 or len(m.outputs) > 1:
        notes.append("the snippets feed the first input and read the first output; the card lists every tensor")
    text = {"text": text_facts} if text_facts else {}
    return notes, {"models": [e["id"] for e in models], "snippets": snippets, **text}


def _write_readme(src: Source, out: Path, target: str, card: dict[str, Any], snippets: list[str]) -> dict[str, Any]:
    """README.md; for a split text model also its tokenizer files and sources (edgekit.bundle.text_mobile).
    Returns the text facts ({} for other models)."""
    from edgekit.bundle.text_mobile import add_text_parts

    text_lines, text_facts = add_text_parts(src, out, target)
    readme = _readme(card, target, snippets) + "".join(f"{line}\n" for line in text_lines)
    (out / "README.md").write_text(readme, encoding="utf-8")
    return text_facts


def _class_name(entry: dict[str, Any]) -> str:
    return "Classifier" + "".join(w.capitalize() for w in re.split(r"[^A-Za-z0-9]+", entry["variant"]) if w)


def _dims(t: dict[str, Any]) -> str:
    return ", ".join(map(str, t["shape"]))


def _floats(values: list[float], suffix: str = "f") -> str:
    return ", ".join(f"{v!r}{suffix}" for v in values)


def _labels_literal(labels: list[str] | None) -> str:
    return ", ".join(json.dumps(x) for x in labels) if labels else ""


def kotlin(entry: dict[str, Any], card: dict[str, Any], prep: Any) -> str:
    """A Kotlin class for one model: Bitmap -> input, quantize, run, dequantize, top label."""
    cls = _class_name(entry)
    tin, tout = entry["inputs"][0], entry["outputs"][0]
    n_in, n_out = int(np.prod(tin["shape"])), int(np.prod(tout["shape"]))
    qi, qo = tin["quantization"], tout["quantization"]
    lines = [
        f"// Generated by edgekit bundle for {entry['id']} ({entry['file']}); see model_card.json.",
        "// Gradle: implementation(\"com.google.ai.edge.litert:litert:1.4.0\") (the TFLite Interpreter API)"
        + ("\n//   and the Flex delegate: implementation(\"org.tensorflow:tensorflow-lite-select-tf-ops:2.16.1\")"
           if entry["requires_flex"] else ""),
        "package com.example.edgekit", "",
    ]
    if prep:
        lines += ["import android.graphics.Bitmap"]
    lines += ["import org.tensorflow.lite.Interpreter", "import java.io.File", "import java.nio.ByteBuffer",
              "import java.nio.ByteOrder", "import kotlin.math.roundToInt", "",
              f"class {cls}(modelFile: File, threads: Int = 4) : AutoCloseable {{",
              "    private val interpreter = Interpreter(modelFile, Interpreter.Options().setNumThreads(threads))", "",
              "    companion object {",
              f"        val INPUT_SHAPE = intArrayOf({_dims(tin)})  // {tin['name']}, {tin['dtype']}",
              f"        val OUTPUT_SHAPE = intArrayOf({_dims(tout)})  // {tout['name']}, {tout['dtype']}"]
    if qi:
        lines += [f"        const val INPUT_SCALE = {qi['scale']!r}f",
                  f"        const val INPUT_ZERO_POINT = {qi['zero_point']}"]
    if qo:
        lines += [f"        const val OUTPUT_SCALE = {qo['scale']!r}f",
                  f"        const val OUTPUT_ZERO_POINT = {qo['zero_point']}"]
    lines += [f"        val LABELS = listOf<String>({_labels_literal(card['labels'])})"]
    if prep:
        lines += [f"        const val PIXEL_SCALE = {prep.scale!r}f",
                  f"        val MEAN = floatArrayOf({_floats(prep.mean)})",
                  f"        val STD = floatArrayOf({_floats(prep.std)})"]
    lines += ["    }", ""]
    if prep:
        h, w, c = tin["shape"][1:]
        pick = "(p shr 16) and 0xFF, (p shr 8) and 0xFF, p and 0xFF" if prep.color != "bgr" else \
            "p and 0xFF, (p shr 8) and 0xFF, (p shr 16) and 0xFF"
        value = "255f - v" if prep.invert else "v"
        lines += [
            f"    /** A picture -> the {h}x{w}x{c} model input: {prep.formula()} */",
            "    fun pixels(bitmap: Bitmap): FloatArray {",
            f"        val scaled = Bitmap.createScaledBitmap(bitmap, {w}, {h}, true)",
            f"        val argb = IntArray({w * h})",
            f"        scaled.getPixels(argb, 0, {w}, 0, 0, {w}, {h})",
            f"        val out = FloatArray({n_in})",
            f"        for (i in 0 until {w * h}) {{",
            "            val p = argb[i]",
            f"            val rgb = intArrayOf({pick})",
        ]
        if c == 1:
            lines += ["            val v = 0.299f * rgb[0] + 0.587f * rgb[1] + 0.114f * rgb[2]",
                      f"            out[i] = (({value}) * PIXEL_SCALE - MEAN[0]) / STD[0]"]
        else:
            lines += ["            for (k in 0 until 3) {", "                val v = rgb[k].toFloat()",
                      f"                out[i * 3 + k] = (({value}) * PIXEL_SCALE - MEAN[k]) / STD[k]", "            }"]
        lines += ["        }", "        return out", "    }", ""]
    lines += [f"    /** {n_in} input values (real, as in the card) -> {n_out} real output values. */",
              "    fun run(input: FloatArray): FloatArray {",
              f"        require(input.size == {n_in}) {{ \"expected {n_in} values, got ${{input.size}}\" }}",
              f"        val inBuf = ByteBuffer.allocateDirect({n_in * _CTYPES.get(tin['dtype'], 4)})"
              ".order(ByteOrder.nativeOrder())"]
    lines += _kotlin_fill_input(tin, qi)
    lines += ["        inBuf.rewind()",
              f"        val outBuf = ByteBuffer.allocateDirect({n_out * _CTYPES.get(tout['dtype'], 4)})"
              ".order(ByteOrder.nativeOrder())"]
    if entry["requires_state_reset"]:
        lines += ["        interpreter.resetVariableTensors()  // stateful fused LSTM: fresh state per input"]
    lines += ["        interpreter.run(inBuf, outBuf)", "        outBuf.rewind()"]
    if qo:
        read = "outBuf.get().toInt()" if tout["dtype"] == "int8" else "(outBuf.get().toInt() and 0xFF)"
        lines += ["        // dequantize: x = scale * (q - zero_point)",
                  f"        return FloatArray({n_out}) {{ OUTPUT_SCALE * ({read} - OUTPUT_ZERO_POINT) }}"]
    else:
        lines += [f"        return FloatArray({n_out}) {{ outBuf.getFloat() }}"]
    lines += ["    }", "",
              "    /** The best class and its score. */",
              "    fun top(scores: FloatArray): Pair<String, Float> {",
              "        val i = scores.indices.maxByOrNull { scores[it] } ?: 0",
              "        return Pair(LABELS.getOrElse(i) { \"class $i\" }, scores[i])", "    }", "",
              "    override fun close() = interpreter.close()", "}", ""]
    return "\n".join(lines)


def _kotlin_fill_input(tin: dict[str, Any], qi: dict[str, Any] | None) -> list[str]:
    """Kotlin lines writing ``input`` into ``inBuf``: quantized, as integer ids, or as floats."""
    if qi:
        lo, hi = (-128, 127) if tin["dtype"] == "int8" else (0, 255)
        return ["        // quantize: q = clip(round(x / scale) + zero_point)",
                "        for (x in input) inBuf.put(((x / INPUT_SCALE).roundToInt() + INPUT_ZERO_POINT)"
                f".coerceIn({lo}, {hi}).toByte())"]
    if tin["dtype"] in _KOTLIN_IDS:
        return [f"        for (x in input) {_KOTLIN_IDS[tin['dtype']]}  // token ids, not real values"]
    return ["        for (x in input) inBuf.putFloat(x)"]


def _swift_input_data(tin: dict[str, Any], qi: dict[str, Any] | None, swift_int: dict[str, str]) -> list[str]:
    """Swift lines making ``data`` from ``input``: quantized, as integer ids, or as floats."""
    if qi:
        t = swift_int[tin["dtype"]]
        return ["        // quantize: q = clip(round(x / scale) + zero_point)",
                f"        let q: [{t}] = input.map {{ {t}(clamping: "
                "Int(($0 / Self.inputScale).rounded()) + Self.inputZeroPoint) }",
                "        let data = q.withUnsafeBufferPointer { Data(buffer: $0) }"]
    if tin["dtype"] in _SWIFT_IDS:
        return [f"        let ids = input.map {{ {_SWIFT_IDS[tin['dtype']]}($0) }}  // token ids, not real values",
                "        let data = ids.withUnsafeBufferPointer { Data(buffer: $0) }"]
    return ["        let data = input.withUnsafeBufferPointer { Data(buffer: $0) }"]


def swift(entry: dict[str, Any], card: dict[str, Any], prep: Any) -> str:
    """A Swift class for one model (TensorFlowLiteSwift): quantize, invoke, dequantize, top label."""
    cls = _class_name(entry)
    tin, tout = entry["inputs"][0], entry["outputs"][0]
    n_in, n_out = int(np.prod(tin["shape"])), int(np.prod(tout["shape"]))
    qi, qo = tin["quantization"], tout["quantization"]
    swift_int = {"int8": "Int8", "uint8": "UInt8"}
    lines = [
        f"// Generated by edgekit bundle for {entry['id']} ({entry['file']}); see model_card.json.",
        "// CocoaPods: pod 'TensorFlowLiteSwift'" + (" and pod 'TensorFlowLiteSelectTfOps' (Flex ops)"
                                                     if entry["requires_flex"] else ""),
        "import Foundation", "import TensorFlowLite", "",
        f"final class {cls} {{",
        f"    static let inputShape = [{', '.join(map(str, tin['shape']))}]  // {tin['name']}, {tin['dtype']}",
        f"    static let outputShape = [{', '.join(map(str, tout['shape']))}]  // {tout['name']}, {tout['dtype']}",
    ]
    if qi:
        lines += [f"    static let inputScale: Float = {qi['scale']!r}",
                  f"    static let inputZeroPoint = {qi['zero_point']}"]
    if qo:
        lines += [f"    static let outputScale: Float = {qo['scale']!r}",
                  f"    static let outputZeroPoint = {qo['zero_point']}"]
    lines += [f"    static let labels: [String] = [{_labels_literal(card['labels'])}]"]
    if prep:
        lines += [f"    // Input values from 0...255 pixels ({prep.color}, HWC order): {prep.formula()}",
                  f"    static let pixelScale: Float = {prep.scale!r}",
                  f"    static let mean: [Float] = [{_floats(prep.mean, '')}]",
                  f"    static let std: [Float] = [{_floats(prep.std, '')}]"]
    lines += ["", "    private let interpreter: Interpreter", "",
              "    init(modelPath: String, threads: Int = 4) throws {",
              "        var options = Interpreter.Options()", "        options.threadCount = threads",
              "        interpreter = try Interpreter(modelPath: modelPath, options: options)",
              "        try interpreter.allocateTensors()", "    }", ""]
    if prep:
        value = "(255 - Float(p))" if prep.invert else "Float(p)"
        lines += ["    /// 0...255 pixel values in HWC order -> model input values.",
                  "    static func normalize(_ pixels: [UInt8]) -> [Float] {",
                  f"        let c = {tin['shape'][3]}",
                  "        return pixels.enumerated().map { i, p in",
                  f"            ({value} * pixelScale - mean[i % c]) / std[i % c]",
                  "        }", "    }", ""]
    lines += [f"    /// {n_in} real input values -> {n_out} real output values.",
              "    func run(_ input: [Float]) throws -> [Float] {",
              f"        precondition(input.count == {n_in}, \"expected {n_in} values\")"]
    lines += _swift_input_data(tin, qi, swift_int)
    if entry["requires_state_reset"]:
        lines += ["        try interpreter.resetVariableTensors()  // stateful fused LSTM: fresh state per input"]
    lines += ["        try interpreter.copy(data, toInputAt: 0)", "        try interpreter.invoke()",
              "        let out = try interpreter.output(at: 0)"]
    if qo:
        t = swift_int[tout["dtype"]]
        lines += [f"        let raw = out.data.withUnsafeBytes {{ Array($0.bindMemory(to: {t}.self)) }}",
                  "        // dequantize: x = scale * (q - zero_point)",
                  "        return raw.map { Self.outputScale * Float(Int($0) - Self.outputZeroPoint) }"]
    else:
        lines += ["        return out.data.withUnsafeBytes { Array($0.bindMemory(to: Float32.self)) }"]
    lines += ["    }", "",
              "    /// The best class and its score.",
              "    static func top(_ scores: [Float]) -> (label: String, score: Float) {",
              "        let i = scores.indices.max { scores[$0] < scores[$1] } ?? 0",
              "        return (i < labels.count ? labels[i] : \"class \\(i)\", scores[i])", "    }", "}", ""]
    return "\n".join(lines)


def _readme(card: dict[str, Any], target: str, snippets: list[str]) -> str:
    rows = "\n".join(
        f"| `{e['file']}` | {e['variant']} | {e['inputs'][0]['dtype']} {e['inputs'][0]['shape']} | "
        f"{e['outputs'][0]['dtype']} {e['outputs'][0]['shape']} | "
        f"{'yes' if e['inputs'][0]['quantization'] or e['outputs'][0]['quantization'] else 'no'} |"
        for e in card["models"])
    extra = []
    for e in card["models"]:
        if e["requires_state_reset"]:
            extra.append(f"- `{e['file']}` keeps LSTM state between calls: reset variables before every input "
                         "(the snippet does).")
        if e["requires_flex"]:
            extra.append(f"- `{e['file']}` needs Select TF ops: link the Flex delegate (several MB).")
    platform = ("Android (Kotlin, the LiteRT / TFLite Interpreter API)" if target == "android"
                else "iOS (Swift, TensorFlowLiteSwift)")
    return f"""# {target} bundle

Generated by `edgekit bundle --target {target}` for {platform}.

## What is here

| file | variant | input | output | quantized I/O |
| --- | --- | --- | --- | --- |
{rows}

- `model_card.json`: every input/output tensor (shape, dtype, scale and zero point), the labels, the
  preprocessing (recorded and applied), what the outputs mean, and per model `requires_state_reset` /
  `requires_flex`.
{"- `labels.txt`: one class name per line, in output order." if card["labels"] else NO_LABELS}
- {", ".join(f"`{s}`" for s in snippets)}: one class per model: prepare the input, quantize it when the model
  takes integers, run, dequantize the output, pick the top label. Shapes and scales are written in.
{chr(10).join(extra)}

## Quantized models

`q = clip(round(x / scale) + zero_point)` before feeding, `x = scale * (q - zero_point)` after reading,
with the per-tensor values in the card (also readable at run time from the interpreter's tensor details).

## Metadata

TFLite metadata is {METADATA_REASON}.

## Outputs

{chr(10).join(f"- `{k}`: {v}." for k, v in card["outputs_meaning"].items())}
"""
