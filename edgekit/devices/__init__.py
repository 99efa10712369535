"""Where a runner executes. A Device takes a Job (edgekit.protocol) and returns a JobOutcome.

- ``cpu`` (kind ``local``): a subprocess per runtime on this machine (``edgekit.devices.local``);
- kind ``ssh``: a Linux board over the system OpenSSH client, running the single-file device runner
  (``edgekit.devices.ssh``, ``edgekit/device_runner/runner.py``);
- kinds ``gpu`` and ``edgetpu``: accelerators on this machine (``edgekit.devices.accel``);
- kind ``browser``: headless Chromium on this machine, a worker subprocess per job like ``cpu`` but only the
  browser runtimes (LiteRT.js, TF.js, onnxruntime-web).

``--device`` names a profile (``edgekit.devices.profiles``): built-in, the user's own, a .toml path, or
``ssh://user@host:port``.
"""

from __future__ import annotations

from edgekit.devices.base import Device, JobOutcome
from edgekit.devices.profiles import Profile, resolve


def get_device(spec: str, accept_new_host_key: bool = False, delegate: str | None = None) -> Device:
    """The device ``spec`` names; unknown names and bad profiles are InputError (exit 2)."""
    profile = resolve(spec)
    dev = _make(spec, profile, accept_new_host_key, delegate)
    dev.threads = profile.threads  # None: validate's default (or --threads) applies
    return dev


def _make(spec: str, profile: Profile, accept_new_host_key: bool, delegate: str | None) -> Device:
    from edgekit.errors import InputError

    if delegate and profile.kind not in ("gpu", "edgetpu"):
        raise InputError(f"--delegate applies to gpu and edgetpu devices; {spec!r} is a {profile.kind} device")
    if profile.kind in ("local", "browser"):
        from edgekit.devices.local import BrowserDevice, LocalCPU

        dev = LocalCPU() if profile.kind == "local" else BrowserDevice()
        dev.name = profile.name
        dev.profile = profile
        return dev
    if profile.kind == "mcu":
        from edgekit.devices.mcu import MCUDevice

        return MCUDevice(profile)
    if profile.kind == "ssh":
        from edgekit.devices.ssh import SSHDevice

        return SSHDevice(profile, accept_new_host_key=accept_new_host_key)
    from edgekit.devices.accel import EdgeTPUDevice, GPUDevice

    return (GPUDevice if profile.kind == "gpu" else EdgeTPUDevice)(profile, delegate=delegate)


__all__ = ["Device", "JobOutcome", "get_device"]
