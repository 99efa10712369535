"""``edgekit bundle DIR --target mcu``: a folder an embedded developer copies into a firmware project.

From the convert folder's ``tflm`` artifact (``edgekit convert --formats tflm``): ``model_data.cc/.h`` and
``micro_op_resolver.h`` as convert wrote them, ``model_settings.h`` (the recommended arena, the I/O quantization,
the labels), ``sample_data.h`` (one golden input as float and the source model's output for it), ``main.cc``
(interpreter + arena, quantize, invoke, dequantize, print the top label; ``Reset()`` first for a stateful LSTM)
and a README with the flash/RAM budget against the built-in boards and the Arduino / ESP-IDF steps.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from edgekit import manifest as mf
from edgekit.bundle.common import BundleOptions, Source, copy_file, top_margin
from edgekit.bundle.mcu_main import MAIN_CC, SAMPLE_H, SETTINGS_H
from edgekit.errors import InputError

C_FILES = ("model_data.cc", "model_data.h", "micro_op_resolver.h")
BOARDS = ("nano33", "esp32s3", "esp32s3-psram", "pico")


def _artifact(src: Source) -> mf.Artifact:
    arts = [a for a in src.manifest.artifacts if a.format == "tflm"]
    if not arts or not arts[0].ok:
        why = f" (it failed: {arts[0].reason})" if arts else ""
        raise InputError(f"{src.folder} has no tflm artifact{why}; run `edgekit convert MODEL --formats tflm "
                         f"--out {src.folder}` first")
    return arts[0]


def _c_float(x: float) -> str:
    return f"{float(x):.9g}f"  # 9 significant digits: a float32 reads back exactly


def _rows(values: np.ndarray, per_row: int = 8) -> str:
    flat = [_c_float(v) for v in np.asarray(values, dtype=np.float64).ravel()]
    return ",\n".join("    " + ", ".join(flat[i:i + per_row]) for i in range(0, len(flat), per_row))


def _c_string(s: str) -> str:
    return '"' + "".join(c if c.isprintable() and c not in '"\\' else f"\\x{ord(c) & 0xff:02x}" for c in s) + '"'


def pick_sample(reference: np.ndarray) -> int:
    """The golden sample the source model decided most clearly (its top-1 margin is the largest)."""
    return int(np.argmax(top_margin(reference))) if reference.ndim == 2 else 0


def _settings(src: Source, art: mf.Artifact, record: Any) -> str:
    m = src.manifest
    qin, qout = art.quantization["inputs"][0], art.quantization["outputs"][0]
    ins, outs = m.inputs[0], m.outputs[0]
    n_out = int(np.prod([d or 1 for d in outs.shape[1:]]))
    labels = src.labels or [f"class {i}" for i in range(n_out)]
    return SETTINGS_H.substitute(
        arena=record.arena.bytes, headroom_pct=round(record.arena.headroom * 100),
        recommended=record.arena.recommended_bytes,
        input_elements=int(np.prod([d or 1 for d in ins.shape[1:]])), input_name=ins.name, input_shape=ins.shape,
        input_scale=_c_float(qin.scale), input_zp=qin.zero_point, output_elements=n_out, output_name=outs.name,
        output_shape=outs.shape, output_scale=_c_float(qout.scale), output_zp=qout.zero_point,
        stateful="true" if art.requires_state_reset else "false", labels=", ".join(_c_string(x) for x in labels))


def _sample(src: Source) -> tuple[str, dict[str, Any]]:
    inputs, reference = src.golden()
    m = src.manifest
    x, ref = inputs[m.inputs[0].name], reference[m.outputs[0].name]
    i = pick_sample(ref)
    label = int(np.argmax(ref[i]))
    names = src.labels or []
    text = SAMPLE_H.substitute(index=i, samples=len(x), input_elements=x[i].size, input=_rows(x[i]),
                               output_elements=ref[i].size, output=", ".join(_c_float(v) for v in ref[i]),
                               label=label, label_name=names[label] if label < len(names) else f"class {label}")
    return text, {"sample_index": i, "expected_label": label, "expected_output": [float(v) for v in ref[i]]}


def build_mcu(src: Source, out: Path, opts: BundleOptions) -> tuple[list[str], dict[str, Any]]:
    """Write the mcu bundle into ``out`` (the staging folder); returns notes and facts (the sample's label)."""
    from edgekit.formats.tflm import record_of

    art = _artifact(src)
    m = src.manifest
    if len(m.inputs) != 1 or len(m.outputs) != 1 or not art.quantization["inputs"]:
        kinds = ", ".join(f"{s.name} {s.dtype}" for s in m.inputs)
        raise InputError("the mcu bundle's main.cc quantizes one float input to int8 and reads one int8 output; "
                         f"this model has {len(m.inputs)} input(s) ({kinds}) and {len(m.outputs)} output(s): use "
                         "the tflm folder's C files with your own main")
    folder = src.artifact_path(art)
    record = record_of(art)
    for name in C_FILES:
        copy_file(folder / name, out / name)
    sample, facts = _sample(src)
    (out / "sample_data.h").write_text(sample, encoding="utf-8")
    (out / "model_settings.h").write_text(_settings(src, art, record), encoding="utf-8")
    (out / "main.cc").write_text(MAIN_CC.substitute(name=record.c_name), encoding="utf-8")
    (out / "README.md").write_text(readme(src, art, record, facts), encoding="utf-8")
    facts.update(arena_bytes=record.arena.recommended_bytes, flash_bytes=record.flash_bytes, ops=record.ops)
    note = f"TFLite Micro: {record.resolver}, arena {record.arena.recommended_bytes} B, flash {record.flash_bytes} B"
    return [note], facts


def _budget_rows(art: mf.Artifact) -> list[str]:
    from edgekit.devices.mcu import budget
    from edgekit.devices.profiles import resolve

    rows = []
    for name in BOARDS:
        p = resolve(name)
        b = budget(art.extra, p)
        rows.append(f"| `{name}` | {p.description} | {'fits' if b.fits else 'does not fit'}: {b.text} |")
    return rows


def readme(src: Source, art: mf.Artifact, record: Any, facts: dict[str, Any]) -> str:
    a = record.arena
    lines = [
        f"# {src.manifest.source.get('path', 'model')} on a microcontroller (TensorFlow Lite for Microcontrollers)",
        "", "Generated by `edgekit bundle --target mcu` from a folder `edgekit validate` can check.", "",
        "## Budget", "",
        f"- flash: the model array is **{record.flash_bytes:,} bytes** (`model_data.cc`); TFLM's code and your "
        "application come on top (the TFLM library is typically tens of KB with only the ops you register).",
        f"- RAM: the tensor arena is **{a.recommended_bytes:,} bytes** (`kTensorArenaSize`): {a.bytes:,} bytes "
        f"measured in the TFLM interpreter on an x86-64 host ({a.measured_on}) plus {round(a.headroom * 100)} % "
        "headroom for optimized kernels' scratch buffers. A too-small arena can hard-fault instead of failing "
        "(measured: TFLM kernels go on after a failed allocation).",
        f"- ops ({len(record.ops)}): {', '.join(record.ops)}; `micro_op_resolver.h` registers exactly these "
        f"(`{record.resolver}`).",
        f"- TFLM the figures were measured with: tflite-micro {record.version}.", "",
        "| board | profile | budget |", "|---|---|---|", *_budget_rows(art), "",
        "## Files", "",
        "- `model_data.cc` / `model_data.h`: the model as an aligned const array (flash);",
        "- `micro_op_resolver.h`: `ModelOpResolver` and `RegisterModelOps()`;",
        "- `model_settings.h`: arena size, input/output quantization, labels;",
        f"- `sample_data.h`: golden sample {facts['sample_index']} as float, and the source model's output for it "
        f"(expected label {facts['expected_label']});",
        "- `main.cc`: `RunModelOnce()` quantizes the sample, invokes, dequantizes and prints the top label"
        + (" (after `interpreter.Reset()`: the LSTM keeps state between invokes)" if art.requires_state_reset else "")
        + ".", "",
        "## Arduino", "",
        "1. Install a TFLite Micro library for your board (Library Manager: e.g. `Chirale_TensorFlowLite` for "
        "Arduino Nano 33 BLE; or `Arduino_TensorFlowLite`, built from tflite-micro's Arduino export).",
        "2. Create a sketch, copy every file of this folder into the sketch folder, rename `main.cc` to "
        "`model_main.cpp`.",
        "3. In the `.ino`: `int RunModelOnce();` then call it from `setup()` after `Serial.begin(115200)`; "
        "`main()` is compiled out when `ARDUINO` is defined. MicroPrintf writes to the serial port.", "",
        "## ESP-IDF", "",
        "1. `idf.py create-project app && cd app && idf.py add-dependency \"espressif/esp-tflite-micro\"`.",
        "2. Copy these files into `main/`, list the `.cc` files in `main/CMakeLists.txt` (`idf_component_register(SRCS "
        "\"main.cc\" \"model_data.cc\" ...)`), and call `RunModelOnce()` from `app_main()` (`extern \"C\" void "
        "app_main()`); `main()` is compiled out when `ESP_PLATFORM` is defined.",
        "3. With PSRAM (esp32s3-psram) a large arena can be allocated there: "
        "`heap_caps_malloc(kTensorArenaSize, MALLOC_CAP_SPIRAM)` instead of the static array.",
        "4. `idf.py set-target esp32s3 build flash monitor`.", "",
    ]
    return "\n".join(lines)


__all__ = ["BOARDS", "C_FILES", "build_mcu", "pick_sample", "readme"]
