"""The Runner interface: how a runtime loads, times and runs one job (the protocol: ``edgekit.protocol``).

In-process runtimes (LiteRT, ONNX Runtime, TensorFlow) subclass :class:`Runner` and implement
``open`` / ``infer`` / ``stage`` / ``invoke`` / ``close``; the default :meth:`Runner.run_job` does the
rest. Out-of-process runtimes (TF.js in Node) override :meth:`Runner.run_job` instead: start their
own process with the same job, let it time its own loop with :func:`edgekit.bench.run_loop`'s rule,
and translate what it writes into the job's outputs file and a :class:`JobResult`.

Runner modules must not import their framework at module level: the parent imports the module to
ask whether it is available, and ``validate`` must not pay for (or require) TensorFlow.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from edgekit.bench import peak_rss_mb, run_loop, summarize, thin
from edgekit.errors import InputError
from edgekit.protocol import Job, JobResult, load_npz

# ---------------------------------------------------------------------------------------------------------
# The runner interface


class Runner(ABC):
    """One runtime. In-process runners implement the five abstract methods; see the module docstring."""

    runtime: ClassVar[str] = ""
    # What to tell the user when the runtime is missing.
    install_hint: ClassVar[str] = ""

    def __init__(self, options: dict[str, Any] | None = None):
        self.options = dict(options or {})

    @classmethod
    def unavailable_reason(cls) -> str | None:
        """None when the runtime can run here; otherwise the reason with the install hint. Must be cheap."""
        return None

    @classmethod
    def versions(cls) -> dict[str, str]:
        """Library versions for the environment fingerprint (called in the worker)."""
        return {}

    @abstractmethod
    def open(self, job: Job) -> None:
        """Load the artifact with ``job.threads`` threads, ready to infer."""

    @abstractmethod
    def infer(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Run one sample (arrays with a leading batch of 1, keyed by signature input names, in the
        artifact's dtype) and return outputs keyed by signature output names."""

    @abstractmethod
    def stage(self, feeds: dict[str, np.ndarray]) -> None:
        """Put one sample into the runtime so that :meth:`invoke` can be timed alone."""

    @abstractmethod
    def invoke(self) -> None:
        """Run the staged sample: the only thing the latency loop times."""

    def close(self) -> None:  # noqa: B027 - optional hook: most runtimes free on garbage collection
        """Release the model."""

    def run_job(self, job: Job) -> JobResult:
        """Load, time, then run every golden sample; write outputs and return the result."""
        return run_in_process(self, job)


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


def run_in_process(runner: Runner, job: Job) -> JobResult:
    """The default :meth:`Runner.run_job`: load, first inference, warm-up, timed loop, golden pass."""
    s = job.bench
    res = JobResult(runtime=job.runtime, threads=job.threads, versions=runner.versions())
    feeds = load_npz(job.feeds_path)
    n = min(len(v) for v in feeds.values()) if feeds else 0

    t0 = time.perf_counter()
    runner.open(job)
    res.load_ms = (time.perf_counter() - t0) * 1e3
    try:
        # Time the runtime on the first golden sample; staged once, outside the loop.
        runner.stage(_sample(feeds, 0))
        t0 = time.perf_counter()
        runner.invoke()
        res.first_ms = (time.perf_counter() - t0) * 1e3
        wtimes, welapsed = run_loop(runner.invoke, s.warmup, s.warmup_min_time, s.max_time) if (
            s.warmup > 0 or s.warmup_min_time > 0
        ) else ([], 0.0)
        res.warmup = {"count": len(wtimes), "mean_ms": float(np.mean(wtimes)) if wtimes else None,
                      "elapsed_s": welapsed}
        times, _ = run_loop(runner.invoke, s.runs, s.min_time, s.max_time)
        res.latency = summarize(times)
        res.samples_ms = thin(times)

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
    return res
