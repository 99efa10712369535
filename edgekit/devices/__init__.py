"""Where a runner executes. A Device takes a Job (edgekit.runtimes.base) and returns a JobOutcome.

Only ``cpu`` (a local subprocess per runtime) exists today. An SSH board, a GPU or an Edge TPU plug in
here: copy the artifact and the feeds, run the same worker there, bring back the two files.
"""

from __future__ import annotations

from edgekit.devices.base import Device, JobOutcome
from edgekit.errors import InputError

DEVICES = ("cpu",)


def get_device(name: str) -> Device:
    """The device called ``name``; unknown names are bad input."""
    if name == "cpu":
        from edgekit.devices.local import LocalCPU

        return LocalCPU()
    raise InputError(f"--device {name!r} is not supported yet; available: {', '.join(DEVICES)}")


__all__ = ["DEVICES", "Device", "JobOutcome", "get_device"]
