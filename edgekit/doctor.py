"""``edgekit doctor``: what is installed, whether it matches the known-good set, which optional parts exist.

Reads package metadata only (no TensorFlow import), so it answers in well under a second.
"""

from __future__ import annotations

import json
import platform
import re
import shutil
import subprocess
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from edgekit.system_deps import how_to_get

# What each package is for, in the order shown.
PACKAGES = {
    "tensorflow": "convert (SavedModel, TFLite converter), SavedModel runtime",
    "keras": "loading .keras models",
    "tf-keras": "required by tensorflowjs; fused LSTM lowering",
    "tensorflowjs": "TF.js converter",
    "tf2onnx": "ONNX converter",
    "onnx": "ONNX model format",
    "onnxruntime": "ONNX runtime",
    "ai-edge-litert": "LiteRT (TFLite) runtime",
    "tflite-runtime": "legacy TFLite runtime (optional)",
    "tflite-micro": "TFLite Micro interpreter (tflm format and runtime)",
    "numpy": "arrays",
    "protobuf": "model formats",
    "typer": "CLI",
    "rich": "console output",
}
CORE = {"numpy", "typer", "rich"}
OPTIONAL = {"tflite-runtime"}


@dataclass
class PackageStatus:
    name: str
    purpose: str
    installed: str | None
    known_good: str | None

    @property
    def state(self) -> str:
        if self.installed is None:
            return "not installed (optional)" if self.name in OPTIONAL else "missing"
        if self.known_good is None or self.installed == self.known_good:
            return "ok"
        return "differs"


@dataclass
class Component:
    name: str
    present: bool
    detail: str
    hint: str = ""


@dataclass
class DoctorReport:
    python: str
    platform: str
    packages: list[PackageStatus] = field(default_factory=list)
    components: list[Component] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "python": self.python,
            "platform": self.platform,
            "packages": [asdict(p) | {"state": p.state} for p in self.packages],
            "components": [asdict(c) for c in self.components],
        }


def known_good() -> dict[str, str]:
    """Pins from the constraints file that ships with edgekit for this Python (the file `make setup` uses on 3.11)."""
    from edgekit.extras import constraints_file

    text = constraints_file().read_text(encoding="utf-8")
    pins = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        m = re.fullmatch(r"([A-Za-z0-9_.\-]+)==([^\s;]+)", line)
        if m:
            pins[_norm(m.group(1))] = m.group(2)
    return pins


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _run_version(cmd: list[str]) -> str:
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"present, but `{' '.join(cmd)}` failed: {e}"
    text = (res.stdout or res.stderr).strip().splitlines()
    return text[0] if text else "present"


def _node_component() -> Component:
    """Node.js as TF.js in Node finds it ($EDGEKIT_NODE, else PATH), by the runtime's own check."""
    from edgekit.runtimes import tfjs_node

    node = tfjs_node.node_binary()
    reason = tfjs_node.node_unavailable_reason()
    detail = _run_version([node, "--version"]) if node else "not found"
    return Component("node", reason is None, detail, "" if reason is None else f"{reason}; {how_to_get('node')}")


def _accelerator_components() -> list[Component]:
    """The GPU and libedgetpu, by the registry checks that decide whether --device gpu/edgetpu rows can run."""
    from edgekit.runtimes import hardware, placement_unavailable_reason

    comps = []
    nodes = hardware.gpu_nodes()
    gpu_reason = placement_unavailable_reason("litert", "gpu")
    smi = shutil.which("nvidia-smi")
    detail = ", ".join(nodes) if nodes else "no GPU device node"
    if smi:
        detail += "; " + _run_version([smi, "--query-gpu=name,driver_version", "--format=csv,noheader"])
    # Never a silent CPU run: without a GPU, --device gpu rows are `unavailable` with this reason.
    comps.append(Component("GPU", gpu_reason is None, detail,
                           "" if gpu_reason is None else f"--device gpu rows are unavailable here: {gpu_reason}"))
    tpu_reason = placement_unavailable_reason("litert", "edgetpu")
    comps.append(Component("libedgetpu", tpu_reason is None, hardware.find_edgetpu_library() or "not found",
                           "" if tpu_reason is None else tpu_reason))
    return comps


def _js_component() -> Component:
    """The npm packages, where `edgekit setup` put them (or a checkout's edgekit/js/node_modules)."""
    from edgekit import setup_js

    modules = setup_js.node_modules() / "@tensorflow"
    pkgs = []
    if modules.is_dir():
        for p in sorted(modules.iterdir()):
            pj = p / "package.json"
            if pj.is_file():
                pkgs.append(f"{p.name}@{json.loads(pj.read_text()).get('version', '?')}")
    detail = f"{', '.join(pkgs)} in {setup_js.node_modules()}" if pkgs else f"not installed ({setup_js.home()})"
    return Component("tfjs npm packages", bool(pkgs), detail, "" if pkgs else setup_js.install_hint())


def components() -> list[Component]:
    """Node, the npm packages, chromium, ssh/sshd, edgetpu_compiler, GPU, libedgetpu: present or how to add them."""
    comps = [_node_component(), _js_component()]
    chromium = next((shutil.which(c) for c in ("chromium", "chromium-browser", "google-chrome")
                     if shutil.which(c)), None)
    comps.append(Component("chromium", chromium is not None, chromium or "not found",
                           "" if chromium else how_to_get("chromium")))
    for tool in ("ssh", "sshd"):
        path = shutil.which(tool) or (f"/usr/sbin/{tool}" if Path(f"/usr/sbin/{tool}").exists() else None)
        comps.append(Component(tool, path is not None, path or "not found", "" if path else how_to_get(tool)))
    etc = shutil.which("edgetpu_compiler")
    comps.append(Component("edgetpu_compiler", etc is not None,
                           _run_version([etc, "--version"]) if etc else "not found",
                           "" if etc else how_to_get("edgetpu_compiler")))
    return comps + _accelerator_components()


def run_doctor() -> DoctorReport:
    pins = known_good()
    report = DoctorReport(python=platform.python_version(), platform=platform.platform())
    for name, purpose in PACKAGES.items():
        report.packages.append(PackageStatus(name, purpose, _version(name), pins.get(_norm(name))))
    report.components = components()
    return report


def components_table(comps: list[Component]) -> Any:
    """The optional components as a rich Table (doctor and setup print the same one)."""
    from rich.markup import escape
    from rich.table import Table

    c = Table(title="optional components")
    for col in ("component", "present", "detail", "to add it"):
        c.add_column(col)
    for comp in comps:
        c.add_row(comp.name, "[green]yes[/]" if comp.present else "[yellow]no[/]", escape(comp.detail),
                  escape(comp.hint))
    return c


def print_doctor(report: DoctorReport, as_json: bool = False) -> None:
    if as_json:
        print(json.dumps(report.to_dict(), indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    console = Console()
    console.print(f"python {report.python} on {report.platform}")
    t = Table(title="converters and runtimes")
    for col in ("package", "installed", "known-good", "state", "used for"):
        t.add_column(col)
    for p in report.packages:
        style = {"ok": "green", "differs": "yellow", "missing": "red"}.get(p.state, "dim")
        t.add_row(p.name, p.installed or "-", p.known_good or "-", f"[{style}]{p.state}[/]", p.purpose)
    console.print(t)
    console.print(components_table(report.components))
    differs = [p.name for p in report.packages if p.state == "differs"]
    if differs:
        from edgekit.extras import constraints_file

        console.print(f"[yellow]outside the known-good set:[/] {', '.join(differs)} (reinstall with pip install "
                      f"-c {constraints_file()} ..., or `make setup` in a checkout)")
    if any(not c.present for c in report.components):
        console.print("[yellow]missing parts:[/] `edgekit setup` installs the JavaScript runtimes and prints the "
                      "command for each system part on this machine (`edgekit setup --check`: report only)")
