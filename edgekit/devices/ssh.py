"""A Linux board reached with the system OpenSSH client: copy the job, run the device runner, bring back outputs.

Why the system ``ssh`` (argument lists through subprocess, never a shell string): users' ~/.ssh/config,
agents, ProxyJump and known_hosts keep working, and there is no SSH library to pin. Why one connection per
job: the artifact, the feeds and ``edgekit/device_runner/runner.py`` go down the connection's stdin as a tar,
the runner unpacks them into a fresh folder, runs the job with a deadline, sends a tar of the result back on
stdout and removes the folder itself (also on errors, timeouts and hang-ups). Nothing is left on the board,
and no remote path is ever interpreted by a shell except through ``shlex.quote``.

Host keys are always checked (``StrictHostKeyChecking=yes``); ``--accept-new-host-key`` relaxes that to
``accept-new`` (a first contact is recorded, a changed key is still refused).
"""

from __future__ import annotations

import io
import json
import shlex
import subprocess
import tarfile
import time
import uuid
from pathlib import Path
from typing import Any

from edgekit.device_runner.runner import MARKER, RESERVED
from edgekit.devices.base import Device, JobOutcome
from edgekit.devices.profiles import Profile
from edgekit.protocol import Job, JobResult

RUNNER_PATH = Path(__file__).resolve().parents[1] / "device_runner" / "runner.py"
# Reads the runner's source (N bytes) from stdin and runs it: the rest of stdin is the job archive.
BOOTSTRAP = ("import sys;_EDGEKIT_SOURCE=sys.stdin.buffer.read(int(sys.argv[1]));"
             "exec(compile(_EDGEKIT_SOURCE,'edgekit_runner.py','exec'))")


# Op versions that old runtimes reject, measured (not guessed): tflite-runtime 2.14.0 fails on the
# FULLY_CONNECTED v12 that TF 2.19 writes into dynamic-range files ("Didn't find op for builtin opcode").
MAX_OP_VERSIONS: list[tuple[str, tuple[int, int], dict[str, int]]] = [
    ("tflite_runtime", (2, 14), {"FULLY_CONNECTED": 11}),
]


def _version_tuple(v: str | None) -> tuple[int, ...]:
    parts = []
    for p in (v or "").split("."):
        if not p.isdigit():
            break
        parts.append(int(p))
    return tuple(parts)


def op_version_warnings(ops: dict[str, Any], runtime: str | None, version: str | None) -> list[str]:
    """Ops of a .tflite (manifest ``extra.ops.builtin``) newer than the device's runtime is known to load."""
    have = _version_tuple(version)
    out = []
    for name, upto, limits in MAX_OP_VERSIONS:
        if runtime != name or not have or have[:2] > upto:
            continue
        for op, max_v in limits.items():
            versions = (ops.get(op) or {}).get("versions") or []
            too_new = [v for v in versions if v > max_v]
            if too_new:
                out.append(f"pre-flight: {name} {version} on the device loads {op} up to version {max_v}; this file "
                           f"has version {max(too_new)} and will likely fail to load (install ai-edge-litert there)")
    return out


class SSHError(Exception):
    """A transport failure, already turned into the one-line message for the report row."""


class SSHDevice(Device):
    kind = "ssh"
    local = False

    def __init__(self, profile: Profile, accept_new_host_key: bool = False):
        self.profile = profile
        self.name = profile.name
        self.accept_new = accept_new_host_key
        self._probe: dict[str, Any] | None = None
        self._probe_error: str | None = None

    # -----------------------------------------------------------------------------------------------------
    # ssh command lines

    @property
    def target(self) -> str:
        p = self.profile
        who = f"{p.user}@{p.host}" if p.user else str(p.host)
        return f"{who}:{p.port}" if p.port else who

    def ssh_argv(self, remote_words: list[str]) -> list[str]:
        """The ssh argument list; the remote command is one string of shlex-quoted words."""
        p = self.profile
        argv = ["ssh", "-T", "-o", "BatchMode=yes", "-o", f"ConnectTimeout={p.connect_timeout}",
                "-o", f"StrictHostKeyChecking={'accept-new' if self.accept_new else 'yes'}",
                "-o", "ServerAliveInterval=5", "-o", "ServerAliveCountMax=3", "-o", "LogLevel=ERROR"]
        if p.port:
            argv += ["-p", str(p.port)]
        if p.user:
            argv += ["-l", p.user]
        if p.identity_file:
            argv += ["-i", str(Path(p.identity_file).expanduser()), "-o", "IdentitiesOnly=yes"]
        if p.known_hosts_file:
            # ssh splits this option on whitespace (it takes a list): quote the path.
            argv += ["-o", f'UserKnownHostsFile="{Path(p.known_hosts_file).expanduser()}"']
        # "--" ends ssh's options: the host can never be read as one.
        return argv + ["--", str(p.host), shlex.join(remote_words)]

    def _python_words(self) -> list[str]:
        return shlex.split(self.profile.python)

    def _call(self, words: list[str], stdin: bytes, timeout: float) -> subprocess.CompletedProcess:
        try:
            return subprocess.run(self.ssh_argv(words), input=stdin, capture_output=True, timeout=timeout,
                                  check=False)
        except FileNotFoundError as e:
            raise SSHError("the OpenSSH client (ssh) is not installed on this machine: apt-get install "
                           "openssh-client") from e

    def _classify(self, proc: subprocess.CompletedProcess) -> str:
        """One line for a failed ssh call (exit 255: ssh itself; 126/127: the remote python)."""
        err = proc.stderr.decode("utf-8", "replace")
        lines = [ln.strip() for ln in err.splitlines() if ln.strip() and not ln.startswith("@@@")]
        last = lines[-1] if lines else "no message"
        p = self.profile
        kh = p.known_hosts_file or "~/.ssh/known_hosts"
        if proc.returncode == 255:
            if "REMOTE HOST IDENTIFICATION HAS CHANGED" in err or "Host key for" in err and "has changed" in err:
                return (f"host key mismatch for {self.target}: it differs from the key in {kh} (a reinstalled "
                        "board, or someone in between); check it, then remove the old key with ssh-keygen -R")
            if "Host key verification failed" in err or "No " in err and "host key is known" in err:
                return (f"host key of {self.target} is not in {kh}: connect once with ssh to check and record it, "
                        "or pass --accept-new-host-key")
            if "Permission denied" in err or "Too many authentication failures" in err:
                return (f"authentication failed for {self.target} ({last}); set identity_file in the profile or "
                        "load the key into ssh-agent (BatchMode: no password prompts)")
            unreachable = ("Connection refused", "timed out", "No route to host", "Could not resolve",
                           "Network is unreachable", "Connection closed", "Connection reset",
                           "kex_exchange_identification", "Name or service not known")
            if any(s in err for s in unreachable):
                return f"host unreachable: {self.target}: {last}"
            return f"ssh to {self.target} failed (exit 255): {last}"
        if proc.returncode in (126, 127) and ("not found" in err or "No such file" in err
                                              or "Permission denied" in err):
            return (f"remote python {p.python!r} not found or not executable on {self.target} ({last}); install "
                    "Python 3.9+ with numpy there, or set python = \"...\" in the device profile")
        return f"remote command on {self.target} exited with {proc.returncode}: {last}"

    @staticmethod
    def _payload(stdout: bytes) -> bytes | None:
        at = stdout.find(MARKER)
        return None if at < 0 else stdout[at + len(MARKER):]

    # -----------------------------------------------------------------------------------------------------
    # probe: reachable? python? runtime? what machine?

    def probe(self) -> dict[str, Any]:
        """Fingerprint and runtime of the device; raises SSHError with the row's reason."""
        if self._probe is not None:
            return self._probe
        if self._probe_error is not None:
            raise SSHError(self._probe_error)
        try:
            src = RUNNER_PATH.read_bytes()
            words = self._python_words() + ["-c", BOOTSTRAP, str(len(src)), "probe", self.profile.runtime]
            timeout = self.profile.connect_timeout + 60.0  # an emulated or cold board needs a while to import
            try:
                proc = self._call(words, src, timeout)
            except subprocess.TimeoutExpired as e:
                raise SSHError(f"remote timeout: {self.target} did not answer the probe within {timeout:g} s") from e
            payload = self._payload(proc.stdout)
            if proc.returncode != 0 or payload is None:
                raise SSHError(self._classify(proc))
            info = json.loads(payload.decode("utf-8"))
            if info.get("error"):
                raise SSHError(f"{info['error']} (on {self.target}, python {info['fingerprint'].get('python')})")
            self._probe = info
            return info
        except SSHError as e:
            self._probe_error = str(e)
            raise

    def preflight(self, artifact: Any) -> list[str]:
        try:
            info = self.probe()
        except SSHError:
            return []  # the run reports the reason
        ops = ((artifact.extra or {}).get("ops") or {}).get("builtin") or {}
        return op_version_warnings(ops, info.get("runtime"), info.get("runtime_version"))

    def describe(self) -> dict[str, Any]:
        d: dict[str, Any] = {"name": self.name, "kind": self.kind, "target": self.target,
                             "profile": self.profile.source, "emulated": self.profile.emulated}
        if self._probe:
            env = dict(self._probe["fingerprint"])
            env["runtime"] = self._probe.get("runtime")
            env["runtime_version"] = self._probe.get("runtime_version")
            d["environment"] = env
        elif self._probe_error:
            d["error"] = self._probe_error
        return d

    # -----------------------------------------------------------------------------------------------------
    # one job

    def run(self, job: Job, timeout_s: float) -> JobOutcome:
        t0 = time.perf_counter()
        try:
            self.probe()
            return self._run(job, timeout_s, t0)
        except SSHError as e:
            return JobOutcome(None, str(e), time.perf_counter() - t0)

    def _archive(self, job: Job) -> tuple[bytes, str]:
        model = Path(job.artifact_path)
        name = model.name if model.name not in RESERVED else f"model-{model.name}"
        remote = Job(runtime=job.runtime, artifact=job.artifact, artifact_path=name, inputs=job.inputs,
                     outputs=job.outputs, feeds_path="feeds.npz", outputs_path="outputs.npz",
                     result_path="result.json", threads=job.threads, bench=job.bench,
                     options={**job.options, "runtime": self.profile.runtime})
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            data = remote.to_json().encode("utf-8")
            info = tarfile.TarInfo("job.json")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
            tar.add(job.feeds_path, arcname="feeds.npz")
            tar.add(str(model), arcname=name)
        return buf.getvalue(), name

    def _run(self, job: Job, timeout_s: float, t0: float) -> JobOutcome:
        src = RUNNER_PATH.read_bytes()
        archive, _ = self._archive(job)
        workname = f"edgekit-{uuid.uuid4().hex[:12]}"
        words = self._python_words() + ["-c", BOOTSTRAP, str(len(src)), "serve", self.profile.workdir or "",
                                        workname, f"{timeout_s:g}"]
        # The runner enforces timeout_s itself and cleans up; this is the backstop for a dead link.
        backstop = timeout_s + self.profile.connect_timeout + 30.0
        try:
            proc = self._call(words, src + archive, backstop)
        except subprocess.TimeoutExpired:
            self._cleanup(workname)
            return JobOutcome(None, f"remote timeout: no answer from {self.target} within {backstop:g} s",
                              time.perf_counter() - t0)
        wall = time.perf_counter() - t0
        tail = [ln for ln in proc.stderr.decode("utf-8", "replace").splitlines() if ln.strip()][-20:]
        payload = self._payload(proc.stdout)
        if payload is None:
            return JobOutcome(None, self._classify(proc), wall, tail)
        try:
            with tarfile.open(fileobj=io.BytesIO(payload), mode="r:") as tar:
                files = {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}
        except (tarfile.TarError, AttributeError) as e:
            return JobOutcome(None, f"the device runner's answer is not readable ({e})", wall, tail)
        raw = json.loads(files["result.json"].decode("utf-8")) if "result.json" in files else {}
        if "outputs.npz" in files:
            Path(job.outputs_path).write_bytes(files["outputs.npz"])
        result = JobResult.from_json(json.dumps({"runtime": job.runtime, **raw}))
        result.notes = list(result.notes) + self._notes(raw)
        Path(job.result_path).write_text(result.to_json(), encoding="utf-8")
        if not result.ok:
            error = result.error or "the device runner failed"
            if result.error_kind == "exception":
                error = f"remote runner error on {self.target}: {error}"
            return JobOutcome(result, error, wall, tail)
        return JobOutcome(result, None, wall, tail)

    def _notes(self, raw: dict[str, Any]) -> list[str]:
        notes = []
        if "xnnpack" in raw:
            notes.append(f"XNNPACK {'on' if raw['xnnpack'] else 'off'} on {self.name}")
        fp = raw.get("thermal_after") or {}
        if fp.get("throttled") not in (None, "0x0"):
            notes.append(f"throttling flags after the run: {fp['throttled']} (vcgencmd get_throttled)")
        if self.profile.emulated:
            notes.append("emulated device (qemu): timings say nothing about the real board's latency")
        return notes

    def _cleanup(self, workname: str) -> None:
        """Backstop after a dead link: remove the remote folder by its (host-chosen) name."""
        parent = self.profile.workdir or ""
        code = ("import os,shutil,sys,tempfile;"
                "shutil.rmtree(os.path.join(os.path.expanduser(sys.argv[1]) or tempfile.gettempdir(),sys.argv[2]),"
                "ignore_errors=True)")
        try:
            self._call(self._python_words() + ["-c", code, parent, workname], b"", self.profile.connect_timeout + 20)
        except (subprocess.TimeoutExpired, SSHError):
            pass
