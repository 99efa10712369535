"""A microcontroller board (``kind = "mcu"``): does the model fit, and does it compute the same on TFLM's kernels.

No board is attached: the tflm artifact runs in TFLite Micro's interpreter on this machine (the same worker as
``--device cpu``), and the board's profile (``flash_kb``, ``ram_kb``) is the budget the artifact's measured
figures are checked against (``extra.tflm`` from ``edgekit convert --formats tflm``):

- flash: the model array (``flash_bytes``); TFLM's own code and the application come on top, so the margin says
  how much is left for them;
- RAM: the recommended tensor arena (the measured arena plus headroom, docs/tflm.md); the stack, the
  application's buffers and the TFLM interpreter object come on top.

A model or arena that does not fit fails its row with the figures; one that fits passes on parity, with the
margins in the row's notes. Only the ``tflm`` format runs here (every other artifact is skipped).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from edgekit.devices.base import JobOutcome
from edgekit.devices.local import LocalCPU
from edgekit.devices.profiles import Profile
from edgekit.protocol import Job

KIB = 1024


@dataclass
class Budget:
    """One artifact against one board."""

    fits: bool
    lines: list[str]  # the margins (fits) or what does not fit (does not)

    @property
    def text(self) -> str:
        return "; ".join(self.lines)


def _kib(n: float) -> str:
    return f"{n / KIB:,.1f} KiB"


def budget(extra: dict[str, Any] | None, profile: Profile) -> Budget:
    """The artifact's recorded flash and arena against ``profile``'s flash_kb and ram_kb."""
    from edgekit.formats.tflm import TflmRecord

    doc = (extra or {}).get("tflm")
    if not doc:
        return Budget(False, [f"the artifact records no TFLite Micro figures; convert with --formats tflm to "
                              f"check it against {profile.name}"])
    rec = TflmRecord.model_validate(doc)
    flash, ram = (profile.flash_kb or 0) * KIB, (profile.ram_kb or 0) * KIB
    arena = rec.arena.recommended_bytes
    lines, fits = [], True
    if rec.flash_bytes > flash:
        fits = False
        lines.append(f"the model ({_kib(rec.flash_bytes)}) does not fit {profile.name}'s flash "
                     f"({profile.flash_kb:,} KiB): {_kib(rec.flash_bytes - flash)} over")
    if arena > ram:
        fits = False
        lines.append(f"the tensor arena ({_kib(arena)} recommended, {_kib(rec.arena.bytes)} measured) does not fit "
                     f"{profile.name}'s RAM ({profile.ram_kb:,} KiB): {_kib(arena - ram)} over")
    if fits:
        lines = [f"{profile.name} flash: model {_kib(rec.flash_bytes)} of {profile.flash_kb:,} KiB "
                 f"({100 * rec.flash_bytes / flash:.1f} %), {_kib(flash - rec.flash_bytes)} left for TFLM and the app",
                 f"{profile.name} RAM: arena {_kib(arena)} (recommended; {_kib(rec.arena.bytes)} measured) of "
                 f"{profile.ram_kb:,} KiB ({100 * arena / ram:.1f} %), {_kib(ram - arena)} left for the stack and "
                 "the app"]
    return Budget(fits, lines)


class MCUDevice(LocalCPU):
    kind = "mcu"

    def __init__(self, profile: Profile):
        self.profile = profile
        self.name = profile.name
        self.margins: list[str] = []  # "artifact: margin" for each artifact that fits (report: devices[].budget)

    def describe(self) -> dict[str, Any]:
        d = super().describe()
        d.update(profile=self.profile.source, flash_kb=self.profile.flash_kb, ram_kb=self.profile.ram_kb,
                 note="TFLite Micro on this host with the board's flash/RAM budget; no board attached",
                 budget=list(self.margins))
        return d

    def runner_options(self) -> dict[str, Any]:
        return {"accelerator": self.kind}  # the worker builds the registry's runner for this device kind

    def preflight(self, artifact: Any) -> list[str]:
        b = budget(artifact.extra, self.profile)
        if not b.fits:
            return []
        self.margins += [f"{artifact.id}: {line}" for line in b.lines]
        return b.lines

    def run(self, job: Job, timeout_s: float) -> JobOutcome:
        outcome = super().run(job, timeout_s)
        b = budget(job.artifact.get("extra"), self.profile)
        if b.fits or outcome.error:
            return outcome
        return JobOutcome(outcome.result, b.text, outcome.wall_s, outcome.stderr_tail, status="fail")


__all__ = ["Budget", "MCUDevice", "budget"]
