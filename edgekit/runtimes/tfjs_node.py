"""TF.js graph models in Node.js (wasm and cpu backends) through edgekit's own JS runner.

The model runs in a ``node edgekit/js/runner.js JOB.json`` subprocess that loads, times and runs it
(see the header of runner.js for the job format). This module only converts between ``.npz`` data
and the runner's raw little-endian tensor files, starts the process with a timeout and reads back
what it wrote. No TensorFlow, no tensorflowjs: validating a TF.js artifact needs Node and the
packages pinned in edgekit/js/package-lock.json, nothing else.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgekit import setup_js
from edgekit.errors import EdgekitError, InputError
from edgekit.protocol import Job, JobResult, default_timeout
from edgekit.runtimes.base import OutOfProcessRunner, paired_io

JS_DIR = setup_js.home()  # where node_modules is: `edgekit setup`'s cache, or a checkout's edgekit/js
RUNNER_JS = setup_js.SHIPPED / "runner.js"
BACKENDS = ("wasm", "cpu")
REQUIRED_PACKAGES = ("tfjs-core", "tfjs-converter", "tfjs-backend-cpu", "tfjs-backend-wasm")
MIN_NODE_MAJOR = 18
INSTALL_HINT = (
    f"install Node.js >= {MIN_NODE_MAJOR} and run `edgekit setup` (`make setup-js` in a checkout: npm ci from the "
    f"shipped lockfile into {JS_DIR}); "
    "set EDGEKIT_NODE to use a node binary that is not on PATH"
)
# Exit code 2 from runner.js: the job, the model files or the inputs cannot be used as given.
_RUNNER_BAD_INPUT = 2


def node_binary() -> str | None:
    """The node executable: $EDGEKIT_NODE, else ``node`` on PATH."""
    override = os.environ.get("EDGEKIT_NODE")
    if override:
        return override if Path(override).is_file() else None
    return shutil.which("node")


@functools.lru_cache(maxsize=4)
def _node_version(node: str) -> str | None:
    try:
        proc = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout.strip().lstrip("v") if proc.returncode == 0 else None


def _missing_packages() -> list[str]:
    scope = JS_DIR / "node_modules" / "@tensorflow"
    return [p for p in REQUIRED_PACKAGES if not (scope / p / "package.json").is_file()]


def node_unavailable_reason() -> str | None:
    """None when a Node.js >= MIN_NODE_MAJOR is there ($EDGEKIT_NODE, else PATH), else why not with the hint."""
    node = node_binary()
    if node is None:
        where = f"EDGEKIT_NODE={os.environ['EDGEKIT_NODE']}" if os.environ.get("EDGEKIT_NODE") else "PATH"
        return f"Node.js was not found on {where}: {INSTALL_HINT}"
    version = _node_version(node)
    if version is None:
        return f"{node} --version failed: {INSTALL_HINT}"
    try:
        major = int(version.split(".")[0])
    except ValueError:
        major = 0
    if major < MIN_NODE_MAJOR:
        return f"Node.js {version} at {node} is too old: {INSTALL_HINT}"
    return None


def unavailable_reason(options: Mapping[str, Any] | None = None) -> str | None:
    """The registry's availability check: None when TF.js in Node can run here, else why not with the hint."""
    reason = node_unavailable_reason()
    if reason:
        return reason
    missing = _missing_packages()
    if missing:
        return f"TF.js packages missing from {JS_DIR / 'node_modules'} ({', '.join(missing)}): {INSTALL_HINT}"
    if not RUNNER_JS.is_file():
        return f"{RUNNER_JS} is missing: reinstall edgekit"
    return None


@dataclass
class TfjsResult:
    """What one runner.js process measured and computed. Times in milliseconds."""

    outputs: dict[str, np.ndarray]  # keyed by the requested output names, stacked over golden samples
    stats: dict[str, Any]  # steady-state latency: count, min_ms, max_ms, mean_ms, std_ms, p50_ms, p90_ms, p99_ms
    samples_ms: np.ndarray
    backend: str
    threads: int
    load_ms: float
    backend_init_ms: float
    first_ms: float
    warmup: dict[str, Any]
    infer_ms: float | None
    peak_rss_mb: float
    versions: dict[str, str]
    execute_mode: str
    notes: list[str] = field(default_factory=list)


def _wire_dtype(name: str, a: np.ndarray) -> np.dtype:
    """TF.js tensors are float32, int32 or bool: pick the exchange dtype for a golden array."""
    if np.issubdtype(a.dtype, np.floating):
        return np.dtype("<f4")
    if np.issubdtype(a.dtype, np.integer) or a.dtype == np.bool_:
        if a.size and (a.min() < np.iinfo(np.int32).min or a.max() > np.iinfo(np.int32).max):
            raise InputError(f"golden input {name!r} has values outside int32, which TF.js cannot hold. "
                             f"Received: min={a.min()}, max={a.max()}")
        return np.dtype("<i4")
    raise InputError(f"golden input {name!r} has dtype {a.dtype}; TF.js takes float or integer inputs")


def _order_inputs(golden: dict[str, np.ndarray], input_names: list[str]) -> list[np.ndarray]:
    """Golden arrays in ``input_names`` order: by name when the keys are those names, else by position
    (golden keys in signature order, ``input_names`` the artifact's names in that same order)."""
    if set(golden) == set(input_names):
        return [golden[n] for n in input_names]
    if len(golden) != len(input_names):
        raise InputError(f"{len(golden)} golden inputs ({', '.join(golden)}) for a model fed "
                         f"{len(input_names)} inputs ({', '.join(input_names)}); they must match one to one")
    return list(golden.values())


def _runner_error(proc: subprocess.CompletedProcess[str], backend: str) -> EdgekitError:
    """The one-line JSON error runner.js writes last on stderr, as a typed error."""
    message = None
    for line in reversed(proc.stderr.strip().splitlines()):
        if line.startswith("{"):
            try:
                message = json.loads(line).get("error")
            except json.JSONDecodeError:
                pass
            break
    if message is None:  # killed by a signal or crashed before it could report
        tail = proc.stderr.strip().splitlines()[-1:] or ["no output"]
        message = f"node exited with code {proc.returncode}: {tail[0][:300]}"
    cls = InputError if proc.returncode == _RUNNER_BAD_INPUT else EdgekitError
    return cls(f"TF.js ({backend}) in Node: {message}")


def _write_inputs(work: Path, input_names: list[str], arrays: list[np.ndarray]) -> list[dict[str, Any]]:
    """Each golden array as a raw little-endian file for runner.js; its entries for the job."""
    inputs = []
    for k, (name, a) in enumerate(zip(input_names, arrays, strict=True)):
        a = np.asarray(a)
        if a.ndim < 1 or a.shape[0] < 1:
            raise InputError(f"golden input {name!r} needs a leading sample axis. Received: shape={a.shape}")
        wire = np.ascontiguousarray(a, dtype=_wire_dtype(name, a))
        path = work / f"input_{k}.bin"
        wire.tofile(path)
        inputs.append({"name": name, "dtype": "float32" if wire.dtype.kind == "f" else "int32",
                       "shape": list(wire.shape), "file": str(path)})
    return inputs


def _call_node(job_path: Path, backend: str, timeout: float) -> None:
    """``node runner.js JOB.json`` with a timeout; its failure as a typed error."""
    node = node_binary() or "node"  # unavailable_reason() found it a moment ago
    try:
        runner = setup_js.script(RUNNER_JS.name, JS_DIR)  # next to the node_modules it imports
        proc = subprocess.run([node, str(runner), str(job_path)], cwd=JS_DIR, stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as e:
        raise EdgekitError(f"TF.js ({backend}) in Node did not finish within {timeout:g} s; "
                           "raise the timeout or lower --max-time") from e
    if proc.returncode != 0:
        raise _runner_error(proc, backend)


def _read_result(out_dir: Path, backend: str) -> tuple[dict[str, Any], dict[str, np.ndarray], np.ndarray]:
    """runner.js's result.json, its output tensors and its per-run times."""
    try:
        result = json.loads((out_dir / "result.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise EdgekitError(f"TF.js ({backend}) in Node exited 0 but left no readable result ({e})") from e
    outputs = {}
    for o in result["outputs"]:
        dtype = "<f4" if o["dtype"] == "float32" else "<i4"
        outputs[o["name"]] = np.fromfile(o["file"], dtype=dtype).reshape(o["shape"])
    return result, outputs, np.fromfile(result["samples_file"], dtype="<f8")


def _result(result: dict[str, Any], outputs: dict[str, np.ndarray], samples: np.ndarray, backend: str) -> TfjsResult:
    return TfjsResult(
        outputs=outputs, stats=result["latency"], samples_ms=samples, backend=backend,
        threads=int(result["threads"]), load_ms=result["load_ms"], backend_init_ms=result["backend_init_ms"],
        first_ms=result["first_ms"], warmup=result["warmup"], infer_ms=result.get("infer_ms"),
        peak_rss_mb=result["peak_rss_mb"], versions=result["versions"], execute_mode=result["execute_mode"],
        notes=list(result.get("notes") or []),
    )


class TfjsNodeRunner(OutOfProcessRunner):
    """TF.js in Node.js; ``options["backend"]`` is ``wasm`` (default) or ``cpu``."""

    @classmethod
    def versions(cls) -> dict[str, str]:
        node = node_binary()
        out = {"node": (_node_version(node) or "unknown") if node else "missing"}
        try:
            deps = json.loads((JS_DIR / "package.json").read_text(encoding="utf-8"))["dependencies"]
            out.update({k.removeprefix("@tensorflow/"): v for k, v in deps.items()})
        except (OSError, KeyError, json.JSONDecodeError):
            pass
        return out

    def run(
        self,
        model_dir: Path,
        golden_inputs: dict[str, np.ndarray],
        input_names: list[str],
        output_names: list[str],
        backend: str | None = None,
        threads: int = 1,
        runs: int = 50,
        warmup: int = 5,
        min_time: float = 1.0,
        max_time: float = 30.0,
        timeout: float = 300.0,
        warmup_min_time: float = 0.25,
    ) -> TfjsResult:
        """Run every golden sample (batch 1) and the benchmark_model latency loop in one node process.

        ``input_names`` / ``output_names`` are model.json signature keys or tensor names (the manifest's
        ``io_names``). Raises InputError for unusable model files or inputs, EdgekitError when Node or
        the packages are missing, for runtime failures and for timeouts.
        """
        backend = backend or self.options.get("backend", "wasm")
        if backend not in BACKENDS:
            raise InputError(f"TF.js backend must be one of {', '.join(BACKENDS)}. Received: backend={backend!r}")
        if threads < 1 or runs < 0 or warmup < 0 or min_time < 0 or max_time <= 0 or timeout <= 0:
            raise InputError(f"bad latency settings. Received: threads={threads}, runs={runs}, warmup={warmup}, "
                             f"min_time={min_time}, max_time={max_time}, timeout={timeout}")
        reason = unavailable_reason()
        if reason:
            raise EdgekitError(f"TF.js in Node is unavailable: {reason}")
        model_dir = Path(model_dir)
        if model_dir.is_file() and model_dir.name == "model.json":
            model_dir = model_dir.parent
        arrays = _order_inputs(golden_inputs, input_names)

        with tempfile.TemporaryDirectory(prefix="edgekit-tfjs-") as tmp:
            work = Path(tmp)
            out_dir = work / "out"
            out_dir.mkdir()
            inputs = _write_inputs(work, input_names, arrays)
            job = {
                "model_dir": str(model_dir.resolve()), "backend": backend, "threads": threads,
                "inputs": inputs, "output_names": list(output_names),
                "runs": runs, "warmup": warmup, "min_time": min_time, "max_time": max_time,
                "warmup_min_time": warmup_min_time, "out_dir": str(out_dir),
                # Let node report its own timeout a little before we kill it, so the reason is readable.
                "deadline_s": max(1.0, timeout - 2.0),
            }
            job_path = work / "job.json"
            job_path.write_text(json.dumps(job), encoding="utf-8")
            _call_node(job_path, backend, timeout)
            result, outputs, samples = _read_result(out_dir, backend)

        return _result(result, outputs, samples, backend)

    def check(self, model_dir: Path, golden_inputs: dict[str, np.ndarray], input_names: list[str],
              output_names: list[str], backends: tuple[str, ...] = BACKENDS,
              timeout: float = 120.0) -> dict[str, TfjsResult | EdgekitError]:
        """Convert's run check: the golden samples on each backend in turn, in one node process, no timing loop.

        Returns per backend its result or why it could not run the model; raises InputError when the model
        files or inputs cannot be used at all, EdgekitError when Node is missing, crashed or timed out."""
        reason = unavailable_reason()
        if reason:
            raise EdgekitError(f"TF.js in Node is unavailable: {reason}")
        with tempfile.TemporaryDirectory(prefix="edgekit-tfjs-check-") as tmp:
            work = Path(tmp)
            (work / "out").mkdir()
            job = {"model_dir": str(Path(model_dir).resolve()), "backend": backends[0],
                   "check_backends": list(backends),
                   "inputs": _write_inputs(work, input_names, _order_inputs(golden_inputs, input_names)),
                   "output_names": list(output_names), "runs": 0, "warmup": 0, "min_time": 0.0, "max_time": 5.0,
                   "warmup_min_time": 0.0, "out_dir": str(work / "out"), "deadline_s": max(1.0, timeout - 2.0)}
            (work / "job.json").write_text(json.dumps(job), encoding="utf-8")
            _call_node(work / "job.json", "+".join(backends), timeout)
            outcome = json.loads((work / "out" / "check.json").read_text(encoding="utf-8"))
            return {b: _result(*_read_result(work / "out" / b, b), b) if outcome[b]["ok"] else
                    EdgekitError(f"TF.js ({b}) in Node: {outcome[b]['error']}") for b in backends}

    def run_job(self, job: Job) -> JobResult:
        """The worker entry point: translate a Job into run() and its result into the job's files."""
        from edgekit.bench import summarize

        pio = paired_io(job)
        sig_in, sig_out, in_names, out_names, feeds = (pio.signature_inputs, pio.signature_outputs, pio.inputs,
                                                       pio.outputs, pio.feeds)
        s = job.bench
        n = len(feeds[sig_in[0]]) if sig_in else 0
        timeout = float(self.options.get("timeout_s", default_timeout(s, n)))
        r = self.run(
            Path(job.artifact_path), {name: feeds[sig] for name, sig in zip(in_names, sig_in, strict=True)},
            in_names, out_names, threads=job.threads, runs=s.runs, warmup=s.warmup, min_time=s.min_time,
            max_time=s.max_time, warmup_min_time=s.warmup_min_time, timeout=timeout,
        )
        np.savez(job.outputs_path, **{sig: r.outputs[name] for name, sig in zip(out_names, sig_out, strict=True)})
        versions = {k: str(v) for k, v in r.versions.items()}
        notes = list(r.notes)
        notes.append(f"load_ms includes {r.backend_init_ms:.1f} ms of {r.backend} backend start-up; "
                     f"model.json + weights: {r.load_ms:.1f} ms")
        if r.execute_mode != "execute":
            notes.append(f"timed with model.{r.execute_mode}")
        return JobResult(
            runtime=job.runtime, versions=versions, threads=r.threads,
            load_ms=r.backend_init_ms + r.load_ms, first_ms=r.first_ms, warmup=r.warmup,
            latency=summarize(r.samples_ms.tolist()), samples_ms=r.samples_ms.tolist(), infer_ms=r.infer_ms,
            peak_rss_mb=r.peak_rss_mb, notes=notes,
        )
