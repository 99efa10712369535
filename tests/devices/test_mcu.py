"""Device kind mcu: board profiles (built-in figures, refusals), the flash/RAM budget, and validate --device on
the tiny CNN's tflm artifact (a board it fits passes with the margins, one too small fails with the figures)."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgekit.devices.mcu import budget
from edgekit.devices.profiles import from_dict, resolve
from edgekit.errors import InputError
from tests.helpers import assert_bad_input, require


@pytest.mark.parametrize(("name", "flash_kb", "ram_kb"), [
    ("nano33", 1024, 256), ("esp32s3", 8192, 512), ("esp32s3-psram", 8192, 8704), ("pico", 2048, 264)])
def test_built_in_boards_carry_their_published_figures(name: str, flash_kb: int, ram_kb: int) -> None:
    p = resolve(name)
    assert (p.kind, p.flash_kb, p.ram_kb, p.source) == ("mcu", flash_kb, ram_kb, "built-in")


@pytest.mark.parametrize(("doc", "message"), [
    ({"kind": "mcu", "flash_kb": -1, "ram_kb": 256}, "flash_kb must be a number >= 1. Received: flash_kb=-1"),
    ({"kind": "mcu", "flash_kb": 1024, "ram_kb": 0}, "ram_kb must be a number >= 1. Received: ram_kb=0"),
    ({"kind": "mcu", "flash_kb": "1MB", "ram_kb": 256}, "flash_kb must be an integer. Received: flash_kb='1MB'"),
    ({"kind": "mcu", "flash_kb": 1024}, "an mcu profile needs flash_kb and ram_kb (whole KiB"),
    ({"kind": "mcu", "flash_kb": 1024, "ram_kb": 256, "sram_kb": 8},
     "unknown key(s) sram_kb for kind 'mcu'; valid keys: kind, description, flash_kb, ram_kb"),
    ({"kind": "mcu", "flash_kb": 1024, "ram_kb": 256, "host": "x"}, "unknown key(s) host for kind 'mcu'"),
])
def test_bad_board_profiles_are_refused_in_one_line(doc: dict, message: str) -> None:
    with pytest.raises(InputError) as e:
        from_dict(doc, "b", "b.toml")
    assert str(e.value).startswith("device profile b.toml: ") and message in str(e.value), str(e.value)
    assert "\n" not in str(e.value)


def _extra(flash: int, arena: int, recommended: int) -> dict:
    return {"tflm": {"version": "0.dev1-gabc", "flash_bytes": flash, "ops": ["CONV_2D"], "resolver": "x",
                     "c_name": "g_model", "files": [], "arena": {"bytes": arena, "recorded_bytes": arena,
                                                                 "recommended_bytes": recommended, "headroom": 0.1,
                                                                 "measured_on": "host"}}}


def test_budget_margins_and_overruns() -> None:
    board = from_dict({"kind": "mcu", "flash_kb": 1024, "ram_kb": 256}, "nano33", "b.toml")
    ok = budget(_extra(512 * 1024, 100_000, 110_592), board)
    assert ok.fits and ok.lines == [
        "nano33 flash: model 512.0 KiB of 1,024 KiB (50.0 %), 512.0 KiB left for TFLM and the app",
        "nano33 RAM: arena 108.0 KiB (recommended; 97.7 KiB measured) of 256 KiB (42.2 %), 148.0 KiB left for the "
        "stack and the app"]
    big = budget(_extra(1100 * 1024, 250 * 1024, 276 * 1024), board)
    assert not big.fits and big.lines == [
        "the model (1,100.0 KiB) does not fit nano33's flash (1,024 KiB): 76.0 KiB over",
        "the tensor arena (276.0 KiB recommended, 250.0 KiB measured) does not fit nano33's RAM (256 KiB): "
        "20.0 KiB over"]
    # The measured arena fits, the recommended one (with headroom) does not: that is a failure too.
    assert not budget(_extra(1024, 255 * 1024, 257 * 1024), board).fits
    assert not budget({}, board).fits and "convert with --formats tflm" in budget({}, board).text


@pytest.fixture(scope="module")
def tflm_folder(converted_tflm_cnn):
    from edgekit.runtimes.tflm import unavailable_reason

    require(unavailable_reason() is None, "tflite-micro is not installed (make setup installs it)")
    assert converted_tflm_cnn.manifest.artifact("tflm").ok
    return converted_tflm_cnn.out


def _validate(folder: Path, device: str, report: Path) -> dict:
    from edgekit.protocol import BenchSettings
    from edgekit.validate import ValidateOptions, validate

    fast = BenchSettings(runs=5, warmup=1, min_time=0.0, max_time=2.0, warmup_min_time=0.0)
    return validate(folder, ValidateOptions(device=device, bench=fast, report_dir=report))


def test_validate_on_a_board_it_fits_passes_with_the_margins(tflm_folder: Path, tmp_path: Path) -> None:
    rep = _validate(tflm_folder, "nano33", tmp_path / "r")
    (row,) = rep["results"]  # only the tflm artifact runs on a board
    assert (row["device"], row["runtime"], row["status"]) == ("nano33", "tflm", "pass"), row
    dev = rep["devices"][0]
    assert (dev["kind"], dev["flash_kb"], dev["ram_kb"]) == ("mcu", 1024, 256)
    assert [m.split(":")[1].strip() for m in dev["budget"]] == ["nano33 flash", "nano33 RAM"]
    assert row["notes"][0].startswith("nano33 flash: model ") and "of 1,024 KiB" in row["notes"][0]
    assert "- budget tflm: nano33 RAM: arena " in (tmp_path / "r" / "report.md").read_text()


def test_validate_on_a_board_too_small_fails_with_the_figures(tflm_folder: Path, tmp_path: Path) -> None:
    from edgekit.formats.tflm import record_of
    from edgekit.manifest import load

    rec = record_of(load(tflm_folder).artifact("tflm"))
    ram_kb = rec.arena.recommended_bytes // 1024 - 1  # one KiB short of the recommended arena
    board = tmp_path / "tiny.toml"
    board.write_text(f'kind = "mcu"\nflash_kb = 1024\nram_kb = {ram_kb}\n')
    rep = _validate(tflm_folder, str(board), tmp_path / "r")
    (row,) = rep["results"]
    assert row["status"] == "fail" and rep["summary"]["exit_code"] == 1
    assert row["reason"] == (f"the tensor arena ({rec.arena.recommended_bytes / 1024:,.1f} KiB recommended, "
                             f"{rec.arena.bytes / 1024:,.1f} KiB measured) does not fit tiny's RAM ({ram_kb:,} KiB): "
                             "1.0 KiB over")


def test_a_bad_board_file_on_the_cli_is_one_line_exit_2(tflm_folder: Path, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from edgekit.cli import app

    board = tmp_path / "board.toml"
    board.write_text('kind = "mcu"\nflash_kb = 1024\nram_kb = -256\n')
    res = CliRunner().invoke(app, ["validate", str(tflm_folder), "--device", str(board), "--report",
                                   str(tmp_path / "r")])
    assert_bad_input(res, "ram_kb must be a number >= 1", "Received: ram_kb=-256")
