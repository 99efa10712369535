"""The system parts a wheel cannot carry (Node.js, chromium, ssh/sshd, edgetpu_compiler): how to get each one on
the machine edgekit finds itself on. Read by ``edgekit setup`` and ``edgekit doctor``; installs nothing.
"""

from __future__ import annotations

import platform
from dataclasses import dataclass
from pathlib import Path

# package names per package manager, for each part; None: not packaged there (the note says what to do)
PACKAGES: dict[str, dict[str, str | None]] = {
    "node": {"apt": "nodejs npm", "dnf": "nodejs npm", "pacman": "nodejs npm", "apk": "nodejs npm",
             "zypper": "nodejs npm", "brew": "node"},
    "chromium": {"apt": "chromium", "dnf": "chromium", "pacman": "chromium", "apk": "chromium",
                 "zypper": "chromium", "brew": None},
    "ssh": {"apt": "openssh-client", "dnf": "openssh-clients", "pacman": "openssh", "apk": "openssh-client",
            "zypper": "openssh-clients", "brew": None},
    "sshd": {"apt": "openssh-server", "dnf": "openssh-server", "pacman": "openssh", "apk": "openssh-server",
             "zypper": "openssh-server", "brew": None},
}
INSTALL = {"apt": "sudo apt-get install -y", "dnf": "sudo dnf install -y", "pacman": "sudo pacman -S --needed",
           "apk": "sudo apk add", "zypper": "sudo zypper install -y", "brew": "brew install"}
# /etc/os-release ID or ID_LIKE -> package manager
FAMILIES = {"debian": "apt", "ubuntu": "apt", "fedora": "dnf", "rhel": "dnf", "centos": "dnf", "arch": "pacman",
            "alpine": "apk", "opensuse": "zypper", "suse": "zypper"}
WHAT_FOR = {
    "node": "TF.js in Node (validate's tfjs-wasm/tfjs-cpu rows) and `edgekit setup`'s npm ci",
    "chromium": "in-browser validation (LiteRT.js, TF.js, onnxruntime-web rows) and web bundle tests",
    "ssh": "validate --device rpi / ssh://user@host (runs artifacts on a board)",
    "sshd": "the SSH device tests on this machine (a local sshd on 127.0.0.1)",
    "edgetpu_compiler": "the opt-in edgetpu format (Coral Edge TPU)",
}
EDGETPU_APT = ("Coral's apt repository (https://coral.ai/software/#debian-packages), then sudo apt-get install "
               "edgetpu-compiler")


@dataclass(frozen=True)
class System:
    name: str  # "Debian GNU/Linux 13 (trixie)", "macOS 15.1", ...
    manager: str | None  # apt, dnf, pacman, apk, zypper, brew, or None
    machine: str  # x86_64, aarch64, arm64


def os_release(path: Path = Path("/etc/os-release")) -> dict[str, str]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return {}
    out = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            out[key.strip()] = value.strip().strip('"')
    return out


def detect(release: dict[str, str] | None = None, system: str | None = None) -> System:
    system = system or platform.system()
    machine = platform.machine()
    if system == "Darwin":
        return System(f"macOS {platform.mac_ver()[0]}".strip(), "brew", machine)
    if system != "Linux":
        return System(system or "unknown", None, machine)
    rel = os_release() if release is None else release
    ids = [rel.get("ID", "")] + rel.get("ID_LIKE", "").split()
    manager = next((FAMILIES[i] for i in ids if i in FAMILIES), None)
    return System(rel.get("PRETTY_NAME") or rel.get("ID") or "Linux", manager, machine)


def how_to_get(part: str, sys_: System | None = None) -> str:
    """One line: the command (or the page) that installs ``part`` on this system, and what it is for."""
    s = sys_ or detect()
    why = WHAT_FOR[part]
    if part == "edgetpu_compiler":
        if s.manager == "apt" and s.machine in ("x86_64", "AMD64"):
            return f"{EDGETPU_APT} ({why})"
        return (f"edgetpu_compiler exists only for x86-64 Debian/Ubuntu; on {s.name} ({s.machine}) compile on such "
                f"a machine or in a Debian x86-64 container ({why})")
    pkg = PACKAGES[part].get(s.manager or "")
    if s.manager and pkg:
        return f"{INSTALL[s.manager]} {pkg} ({why})"
    if part == "node":
        return f"install Node.js >= 18 from https://nodejs.org ({why})"
    if part == "chromium":
        return f"install Chromium or Google Chrome and put it on PATH ({why})"
    return f"install an OpenSSH {'server' if part == 'sshd' else 'client'} for {s.name} ({why})"


__all__ = ["PACKAGES", "System", "detect", "how_to_get", "os_release"]
