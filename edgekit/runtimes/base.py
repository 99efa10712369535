"""The runner contract, in the spirit of Polygraphy's BaseRunner: public methods check, ``_impl`` methods work.

- :class:`InProcessRunner` (LiteRT, ONNX Runtime, TensorFlow): the model lives in the worker process.
  Subclasses implement ``_open_impl`` / ``_stage_impl`` / ``_invoke_impl`` / ``_infer_impl`` (and optionally
  ``_close_impl``); the public ``open`` / ``stage`` / ``invoke`` / ``infer`` / ``close`` check the runner's state
  and call them, and :meth:`InProcessRunner.run_job` times them by :func:`edgekit.bench.run_loop`'s rule.
- :class:`OutOfProcessRunner` (TF.js in Node, the browser): the model runs in a process of its own that times
  its own loop by the same rule; the subclass implements :meth:`Runner.run_job` and nothing else.

The job protocol (what a job and its result hold) is ``edgekit.protocol``; which runner serves a runtime on a
device kind is ``edgekit.runtimes.REGISTRY``. Runner modules must not import their framework at module level:
the parent imports the module to check availability, and ``validate`` must not pay for (or require)
TensorFlow.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

import numpy as np

from edgekit.bench import peak_rss_mb, run_loop, summarize, thin
from edgekit.errors import EdgekitError, InputError
from edgekit.protocol import Job, JobResult, load_npz


class Runner(ABC):
    """One runtime, built by the registry with its fixed options (merged with the device's and the job's)."""

    def __init__(self, options: dict[str, Any] | None = None):
        self.options = dict(options or {})
        self.notes: list[str] = []  # what the runner found out while running (a fallback, a delegate)

    @classmethod
    def versions(cls) -> dict[str, str]:
        """Library versions for the environment fingerprint (called in the worker)."""
        return {}

    @abstractmethod
    def run_job(self, job: Job) -> JobResult:
        """Run ``job``: write ``job.outputs_path`` and return the measurements."""


class OutOfProcessRunner(Runner):
    """A runtime in its own process (Node, a browser): :meth:`run_job` starts it and translates its answer."""


class InProcessRunner(Runner):
    """A runtime loaded into this process. Public methods check the state; subclasses implement the ``_impl``s."""

    _state = "closed"  # closed -> open -> staged (stage/infer) -> closed

    def open(self, job: Job) -> None:
        """Load the artifact with ``job.threads`` threads, ready to infer."""
        if self._state != "closed":
            raise EdgekitError(f"{type(self).__name__}.open(): already open; close() it first")
        self._open_impl(job)
        self._state = "open"

    def stage(self, feeds: dict[str, np.ndarray]) -> None:
        """Put one sample into the runtime so that :meth:`invoke` can be timed alone."""
        self._require("stage", "open", "staged")
        self._stage_impl(feeds)
        self._state = "staged"

    def invoke(self) -> None:
        """Run the staged sample: the only thing the latency loop times."""
        self._require("invoke", "staged")
        self._invoke_impl()

    def infer(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run one sample (arrays with a leading batch of 1, keyed by signature input names, in the artifact's
        dtype) and return outputs keyed by signature output names."""
        self._require("infer", "open", "staged")
        out = self._infer_impl(feeds)
        self._state = "staged"  # an infer stages its sample too
        return out

    def close(self) -> None:
        """Release the model (closing a closed runner does nothing)."""
        if self._state != "closed":
            self._close_impl()
            self._state = "closed"

    def run_job(self, job: Job) -> JobResult:
        """Load, time, then run every golden sample; write outputs and return the result."""
        return run_in_process(self, job)

    def _require(self, what: str, *states: str) -> None:
        if self._state not in states:
            need = "open() a job" if self._state == "closed" else "stage() a sample"
            raise EdgekitError(f"{type(self).__name__}.{what}(): {need} first (the runner is {self._state})")

    @abstractmethod
    def _open_impl(self, job: Job) -> None: ...

    @abstractmethod
    def _stage_impl(self, feeds: dict[str, np.ndarray]) -> None: ...

    @abstractmethod
    def _invoke_impl(self) -> None: ...

    @abstractmethod
    def _infer_impl(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]: ...

    def _close_impl(self) -> None:  # noqa: B027 - optional hook: most runtimes free on garbage collection
        pass


@dataclass
class PairedIO:
    """A job's signature names paired with the artifact's own tensor names, and its feeds."""

    signature_inputs: list[str]
    signature_outputs: list[str]
    inputs: list[str]  # the artifact's own names, in signature order
    outputs: list[str]
    feeds: dict[str, np.ndarray]  # keyed by signature input name


def paired_names(job: Job) -> tuple[list[str], list[str], list[str], list[str]]:
    """(signature inputs, signature outputs, artifact inputs, artifact outputs): io_names are the artifact's
    own tensor names in signature order (a lowered LSTM names its output after its last layer); absent, the
    artifact uses the signature names."""
    art = job.artifact_record
    sig_in = [s.name for s in job.input_specs]
    sig_out = [s.name for s in job.output_specs]
    io = art.io_names or {}
    in_names = list(io.get("inputs") or sig_in)
    out_names = list(io.get("outputs") or sig_out)
    if len(in_names) != len(sig_in) or len(out_names) != len(sig_out):
        raise InputError(f"artifact {art.id}: io_names {io} do not pair one to one with the signature "
                         f"inputs {sig_in} and outputs {sig_out}; re-run `edgekit convert`")
    return sig_in, sig_out, in_names, out_names


def paired_io(job: Job) -> PairedIO:
    """paired_names() and the golden feeds, keyed by signature input name."""
    sig_in, sig_out, in_names, out_names = paired_names(job)
    feeds = load_npz(job.feeds_path)
    missing = [n for n in sig_in if n not in feeds]
    if missing:
        raise InputError(f"golden inputs lack {', '.join(missing)}; they hold {', '.join(feeds) or 'nothing'}")
    return PairedIO(sig_in, sig_out, in_names, out_names, feeds)


def _sample(feeds: dict[str, np.ndarray], i: int) -> dict[str, np.ndarray]:
    # Keep the batch axis: runtimes were exported with a batch of 1.
    return {k: np.ascontiguousarray(v[i : i + 1]) for k, v in feeds.items()}


def _timed(runner: InProcessRunner, res: JobResult, job: Job, first: dict[str, np.ndarray]) -> None:
    """First inference, warm-up and the steady-state loop on one staged sample."""
    s = job.bench
    runner.stage(first)
    t0 = time.perf_counter()
    runner.invoke()  # checks the state; the loops then call the implementation alone (no check timed)
    res.first_ms = (time.perf_counter() - t0) * 1e3
    invoke = runner._invoke_impl
    wtimes, welapsed = run_loop(invoke, s.warmup, s.warmup_min_time, s.max_time) if (
        s.warmup > 0 or s.warmup_min_time > 0
    ) else ([], 0.0)
    res.warmup = {"count": len(wtimes), "mean_ms": float(np.mean(wtimes)) if wtimes else None,
                  "elapsed_s": welapsed}
    times, _ = run_loop(invoke, s.runs, s.min_time, s.max_time)
    res.latency = summarize(times)
    res.samples_ms = thin(times)


def run_in_process(runner: InProcessRunner, job: Job) -> JobResult:
    """:meth:`InProcessRunner.run_job`: load, first inference, warm-up, timed loop, golden pass."""
    res = JobResult(runtime=job.runtime, threads=job.threads, versions=runner.versions())
    feeds = load_npz(job.feeds_path)
    n = min(len(v) for v in feeds.values()) if feeds else 0

    t0 = time.perf_counter()
    runner.open(job)
    res.load_ms = (time.perf_counter() - t0) * 1e3
    try:
        # Time the runtime on the first golden sample; staged once, outside the loop.
        _timed(runner, res, job, _sample(feeds, 0))
        # Parity pass: every golden sample through the full infer() path (copies included).
        collected: dict[str, list[np.ndarray]] = {}
        infer_times: list[float] = []
        for i in range(n):
            sample = _sample(feeds, i)
            t0 = time.perf_counter()
            out = runner.infer(sample)
            infer_times.append((time.perf_counter() - t0) * 1e3)
            for k, v in out.items():
                collected.setdefault(k, []).append(np.asarray(v))
        res.infer_ms = float(np.median(infer_times)) if infer_times else None
        np.savez(job.outputs_path, **{k: np.concatenate(v, axis=0) for k, v in collected.items()})
    finally:
        runner.close()
    res.peak_rss_mb = peak_rss_mb()
    res.notes += runner.notes
    return res
