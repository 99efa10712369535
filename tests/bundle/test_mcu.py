"""`edgekit bundle --target mcu`: every file there, the sample input and expected output are the golden set's
(checked through the C arrays compiled with g++ and through the TFLM interpreter), the budget in the README."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from edgekit import manifest
from edgekit.bundle import BundleOptions, bundle
from edgekit.cli import app
from edgekit.protocol import load_npz
from edgekit.quant import quant_params, quantize
from tests.helpers import assert_bad_input, require

LABELS = ["top-left", "top-right", "bottom-left", "bottom-right"]  # tests.models.quadrant_images' classes


@pytest.fixture(scope="module")
def mcu_bundle(converted_tflm_cnn, tmp_path_factory):
    from edgekit.runtimes.tflm import unavailable_reason

    require(unavailable_reason() is None, "tflite-micro is not installed (make setup installs it)")
    folder = tmp_path_factory.mktemp("bundles")
    labels = folder / "labels.txt"
    labels.write_text("\n".join(LABELS) + "\n")
    return converted_tflm_cnn.out, bundle(converted_tflm_cnn.out, folder / "mcu",
                                          BundleOptions(target="mcu", labels=labels))


def test_every_file_and_the_budget(mcu_bundle) -> None:
    folder, res = mcu_bundle
    assert res.files == ["README.md", "main.cc", "micro_op_resolver.h", "model_data.cc", "model_data.h",
                         "model_settings.h", "sample_data.h"]
    rec = manifest.load(folder).artifact("tflm").extra["tflm"]
    for name in ("model_data.cc", "model_data.h", "micro_op_resolver.h"):  # as convert wrote them
        assert (res.out / name).read_bytes() == (folder / "tflm" / name).read_bytes()
    settings = (res.out / "model_settings.h").read_text()
    assert f"constexpr int kTensorArenaSize = {rec['arena']['recommended_bytes']};" in settings
    assert "constexpr int kInputElements = 768;" in settings and "constexpr bool kStatefulModel = false;" in settings
    assert 'constexpr const char* kLabels[] = {"top-left", "top-right", "bottom-left", "bottom-right"};' in settings
    readme = (res.out / "README.md").read_text()
    assert f"the model array is **{rec['flash_bytes']:,} bytes**" in readme
    assert f"the tensor arena is **{rec['arena']['recommended_bytes']:,} bytes**" in readme
    assert "| `nano33` | Arduino Nano 33 BLE Sense (nRF52840): 1 MB flash, 256 KB RAM | fits: nano33 flash:" in readme
    assert "## Arduino" in readme and 'idf.py add-dependency "espressif/esp-tflite-micro"' in readme
    main = (res.out / "main.cc").read_text()
    assert "tflite::GetModel(g_model)" in main and "RegisterModelOps(resolver)" in main
    assert "if (kStatefulModel) interpreter.Reset();" in main


def test_the_sample_is_the_golden_one_and_tflm_agrees(mcu_bundle) -> None:
    from tflite_micro import runtime

    folder, res = mcu_bundle
    i, label = res.facts["sample_index"], res.facts["expected_label"]
    ref = load_npz(folder / manifest.REFERENCE_OUTPUTS)["output_0"]
    assert res.facts["expected_output"] == [float(v) for v in ref[i]] and label == int(np.argmax(ref[i]))
    art = manifest.load(folder).artifact("tflm")
    x = load_npz(folder / manifest.GOLDEN_INPUTS)["image"][i:i + 1]
    it = runtime.Interpreter.from_bytes((folder / "tflm" / "model.tflite").read_bytes(),
                                        arena_size=art.extra["tflm"]["arena"]["recommended_bytes"])
    it.set_input(quantize(x, quant_params(art, "inputs")["image"]), 0)
    it.invoke()
    assert int(np.argmax(it.get_output(0))) == label  # what main.cc will print on the board


def test_the_c_sample_quantizes_to_the_golden_int8_input(mcu_bundle, tmp_path: Path) -> None:
    """The C arrays compiled with the system compiler: the sample quantized as main.cc does equals the golden
    input quantized with the manifest's parameters, byte for byte."""
    require(shutil.which("g++") is not None, "no system C++ compiler (g++)")
    folder, res = mcu_bundle
    (tmp_path / "q.cc").write_text(
        '#include <cmath>\n#include <cstdio>\n#include <cstdint>\n'
        '#include "model_settings.h"\n#include "sample_data.h"\n#include "model_data.h"\n'
        "int main() {\n  for (int i = 0; i < kInputElements; ++i) {\n"
        "    int q = static_cast<int>(std::lround(kSampleInput[i] / kInputScale)) + kInputZeroPoint;\n"
        "    signed char c = static_cast<signed char>(q < -128 ? -128 : (q > 127 ? 127 : q));\n"
        "    std::fwrite(&c, 1, 1, stdout);\n  }\n  return g_model_len > 0 ? kExpectedLabel : 99;\n}\n")
    exe = tmp_path / "q"
    subprocess.run(["g++", "-std=c++17", "-Wall", "-Werror", "-I", str(res.out), str(tmp_path / "q.cc"),
                    str(res.out / "model_data.cc"), "-o", str(exe)], check=True, capture_output=True, timeout=120)
    run = subprocess.run([str(exe)], capture_output=True, timeout=30)
    assert run.returncode == res.facts["expected_label"]
    art = manifest.load(folder).artifact("tflm")
    x = load_npz(folder / manifest.GOLDEN_INPUTS)["image"][res.facts["sample_index"]]
    want = quantize(x, quant_params(art, "inputs")["image"]).ravel()
    got = np.frombuffer(run.stdout, dtype=np.int8)
    # float32 / scale in C++ vs float64 in numpy: a value exactly halfway may round the other way.
    assert got.shape == want.shape and np.abs(got.astype(int) - want.astype(int)).max() <= 1
    assert (got == want).mean() >= 0.99


def test_a_folder_without_tflm_is_one_line_exit_2(mcu_bundle, tmp_path: Path, fresh_copy) -> None:
    from edgekit.manifest import load, save

    folder = fresh_copy(mcu_bundle[0])
    m = load(folder)
    m.artifacts = [a for a in m.artifacts if a.format != "tflm"]
    save(m, folder)
    res = CliRunner().invoke(app, ["bundle", str(folder), "--target", "mcu", "--out", str(tmp_path / "b")])
    assert_bad_input(res, "has no tflm artifact", "--formats tflm")
    assert not (tmp_path / "b").exists()
