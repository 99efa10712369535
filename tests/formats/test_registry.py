"""The format registry (edgekit.formats): targets, groups, options and their checks, as data."""

from __future__ import annotations

import dataclasses
import importlib

import pytest

from edgekit.errors import InputError
from edgekit.formats import FORMATS, GROUPS, OPTIONS, TARGETS, by_cost, check_options, formats_help, parse_formats


def test_parse_formats_groups_ids_and_order() -> None:
    assert [t.id for t in parse_formats("all")] == ["saved_model", "tflite-float32", "tflite-float16",
                                                    "tflite-dynamic", "tflite-int8", "tfjs", "onnx"]
    assert [t.id for t in parse_formats("onnx, tflite ,")] == ["tflite-float32", "tflite-float16",
                                                              "tflite-dynamic", "tflite-int8", "onnx"]
    assert [t.id for t in parse_formats("edgetpu,saved_model")] == ["saved_model", "edgetpu"]
    with pytest.raises(InputError, match="unknown format 'coreml'; valid: all, tflite, saved_model"):
        parse_formats("tflite,coreml")
    with pytest.raises(InputError, match="--formats is empty"):
        parse_formats(" , ")


def test_every_target_has_a_format_whose_module_converts() -> None:
    for t in TARGETS.values():
        mod = importlib.import_module(FORMATS[t.format].module)
        assert callable(mod.convert), t.id
        assert t.path and t.variant
    assert {t.id for t in TARGETS.values() if t.needs_calibration} == {"tflite-int8", "tflite-int16x8", "edgetpu",
                                                                        "tflm"}
    assert [t.id for t in TARGETS.values() if t.opt_in] == ["tflite-int16x8", "edgetpu", "tflm"]
    assert "edgetpu" not in GROUPS["all"]


def test_formats_help_lists_every_id_and_group() -> None:
    assert formats_help() == (
        "Comma-separated subset of: saved_model, tflite (all four variants), tflite-float32, tflite-float16, "
        "tflite-dynamic, tflite-int8, tflite-int16x8 (opt-in: not part of all), tfjs, onnx, edgetpu (opt-in: not part "
        "of all), tflm (opt-in: not part of all). Default: all.")


def test_costliest_targets_run_first() -> None:
    # The order the pool used before the registry held costs: int8 calibrates, float32 is quickest.
    assert [t.id for t in by_cost(parse_formats("all,edgetpu")[1:])] == [
        "tflite-int8", "tflite-dynamic", "tflite-float16", "tfjs", "onnx", "tflite-float32", "edgetpu"]


def test_convert_options_carry_every_registry_option() -> None:
    from edgekit.convert import ConvertOptions

    opts = ConvertOptions()
    assert {o.name: getattr(opts, o.name) for o in OPTIONS} == {
        "int8_io": "int8", "int8_weights": "per-channel", "lstm": "auto", "tfjs_quantize": "none", "opset": 17,
        "int8_max_drop": None, "int8_min_sqnr": None,  # issue 11: the int8 budget
        "tflm_name": "g_model", "strings": "split"}  # issue 16: text models
    assert {f.name for f in dataclasses.fields(ConvertOptions)} >= {"formats", "calibration", "jobs", "opset"}
    check_options(opts)  # the defaults pass their own checks


@pytest.mark.parametrize("field, value, message", [
    ("int8_io", "int4", "--int8-io 'int4' is not one of int8, uint8, float32"),
    ("int8_weights", "per-row", "--int8-weights 'per-row' is not one of per-channel, per-tensor, auto"),
    ("tfjs_quantize", "int2", "--tfjs-quantize 'int2' is not one of none, float16, uint8, uint16"),
    ("lstm", "magic", "--lstm 'magic' is not one of auto, fused, unroll, flex"),
    ("strings", "keep", "--strings 'keep' is not one of split, flex"),
    ("opset", 3, "--opset 3 is outside the range tf2onnx supports (9 to 21); 17 is the default"),
    ("opset", 22, "--opset 22 is outside the range tf2onnx supports (9 to 21); 17 is the default"),
    ("opset", "17", "--opset must be a int; received '17'"),
])
def test_option_checks_say_what_was_received(field, value, message) -> None:
    from edgekit.convert import ConvertOptions

    with pytest.raises(InputError) as e:
        check_options(ConvertOptions(**{field: value}))
    assert str(e.value) == message


def test_cli_options_come_from_the_registry() -> None:
    from typer.main import get_command

    from edgekit.cli import app

    cmd = get_command(app).commands["convert"]
    by_flag = {p.opts[0]: p for p in cmd.params}
    for o in OPTIONS:
        assert by_flag[o.flag].help == o.help and by_flag[o.flag].default == o.default, o.flag


def test_context_scratch_folders_are_siblings_removed_on_close(tmp_path) -> None:
    from edgekit.formats import Context

    staging = tmp_path / ".out.edgekit-tmp-1"
    staging.mkdir()
    with Context(staging=staging, saved_model_dir=staging / "saved_model", inputs=[], outputs=[],
                 keras_model=None, calibration=None, options=None) as ctx:
        work = ctx.scratch("lstm")
        (work / "big.bin").write_bytes(b"x" * 10)
        assert work == tmp_path / ".out.edgekit-tmp-1-lstm" and ctx.scratch("lstm") == work
        with pytest.raises(ValueError, match="identifiers"):
            ctx.scratch("../elsewhere")
    assert not work.exists() and staging.is_dir()


def test_an_option_no_chosen_format_reads_is_reported() -> None:
    from edgekit.convert import ConvertOptions
    from edgekit.formats import unused_options

    opts = ConvertOptions(opset=13, int8_io="uint8")
    assert unused_options(opts, parse_formats("tfjs")) == [
        "--int8-io 'uint8' has no effect: it applies to tflite, edgetpu, tflm, and --formats asked for none of them",
        "--opset 13 has no effect: it applies to onnx, and --formats asked for none of them"]
    assert unused_options(opts, parse_formats("tflite-int8,onnx")) == []
    assert unused_options(ConvertOptions(), parse_formats("saved_model")) == []


def test_each_format_module_reads_only_the_options_it_declares() -> None:
    """The registry's per-format whitelist is the truth: a module reading another format's option fails here."""
    import inspect
    import re

    every = {o.name for o in OPTIONS}
    for fmt in FORMATS.values():
        source = inspect.getsource(fmt.load())
        read = set(re.findall(r"(?:ctx\.options|opts)\.(\w+)|getattr\(ctx\.options, \"(\w+)\"", source))
        names = {a or b for a, b in read} & every
        assert names <= {o.name for o in fmt.options}, (fmt.name, names)
    assert {"int8_io", "int8_weights", "lstm"} <= {o.name for o in FORMATS["tflite"].options}
