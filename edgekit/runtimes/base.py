"""The Runner interface and the job protocol between ``edgekit validate`` and a runtime worker.

How an artifact gets run
------------------------
``validate`` (the parent) never loads a model. For each (artifact, runtime) it writes a :class:`Job`
as JSON and hands it to a device (``edgekit.devices``); the local CPU device starts one subprocess::

    python -m edgekit.runtimes.worker JOB.json

The worker builds the runner named by ``job.runtime`` (see ``edgekit.runtimes.RUNTIMES``) and calls
``runner.run_job(job)``, which must:

1. read ``job.feeds_path`` (an ``.npz``: one array per *signature* input name, shape ``[N, ...]``,
   already in the artifact's own dtype: the parent quantizes int8/uint8 inputs before the job starts),
2. write ``job.outputs_path`` (an ``.npz``: one array per *signature* output name, shape ``[N, ...]``,
   in the artifact's own dtype: the parent dequantizes),
3. write ``job.result_path`` (JSON, the :class:`JobResult` fields): load time, first inference,
   warm-up and steady-state latency measured *inside* the runtime's process (IPC never timed),
   peak RSS, library versions.

The parent treats a missing result file, a non-zero exit, a signal (segfault on a corrupt model)
or a timeout as status ``error`` with the reason, and goes on with the next artifact.

In-process runtimes (LiteRT, ONNX Runtime, TensorFlow) subclass :class:`Runner` and implement
``open`` / ``infer`` / ``stage`` / ``invoke`` / ``close``; the default :meth:`Runner.run_job` does the
rest. Out-of-process runtimes (TF.js in Node) override :meth:`Runner.run_job` instead: start their
own process with the same job, let it time its own loop with :func:`edgekit.bench.run_loop`'s rule,
and translate what it writes into the two files above.

Runner modules must not import their framework at module level: the parent imports the module to
ask :meth:`Runner.unavailable_reason`, and ``validate`` must not pay for (or require) TensorFlow.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from edgekit.manifest import Artifact, QuantParams, TensorSpec

# ---------------------------------------------------------------------------------------------------------
# The job protocol


@dataclass
class BenchSettings:
    """The benchmark_model rule: run while (count < runs or elapsed < min_time) and elapsed <= max_time.

    The same rule applies to warm-up with ``warmup`` / ``warmup_min_time``."""

    runs: int = 50
    warmup: int = 5
    min_time: float = 1.0
    max_time: float = 30.0
    warmup_min_time: float = 0.25


@dataclass
class Job:
    """Everything a worker needs; JSON-serializable so it can cross a process or a network boundary."""

    runtime: str  # a key of edgekit.runtimes.RUNTIMES, e.g. "litert"
    artifact: dict[str, Any]  # Artifact.to_dict()
    artifact_path: str  # absolute, already checked against the folder and its sha256
    inputs: list[dict[str, Any]]  # signature inputs (TensorSpec dicts), in order
    outputs: list[dict[str, Any]]  # signature outputs
    feeds_path: str
    outputs_path: str
    result_path: str
    threads: int = 1
    bench: BenchSettings = field(default_factory=BenchSettings)
    options: dict[str, Any] = field(default_factory=dict)  # runtime-specific, e.g. {"backend": "wasm"}

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)

    @classmethod
    def from_json(cls, text: str) -> Job:
        d = json.loads(text)
        d["bench"] = BenchSettings(**d.get("bench", {}))
        return cls(**d)

    @property
    def artifact_record(self) -> Artifact:
        return Artifact.from_dict(self.artifact)

    @property
    def input_specs(self) -> list[TensorSpec]:
        return [TensorSpec.from_dict(t) for t in self.inputs]

    @property
    def output_specs(self) -> list[TensorSpec]:
        return [TensorSpec.from_dict(t) for t in self.outputs]


@dataclass
class JobResult:
    """What a worker reports besides the outputs. Times in milliseconds."""

    runtime: str
    ok: bool = True
    error: str | None = None
    versions: dict[str, str] = field(default_factory=dict)
    threads: int | None = None
    load_ms: float | None = None
    first_ms: float | None = None
    warmup: dict[str, Any] = field(default_factory=dict)  # {"count", "mean_ms", "elapsed_s"}
    latency: dict[str, Any] = field(default_factory=dict)  # edgekit.bench.summarize(...)
    samples_ms: list[float] = field(default_factory=list)  # steady-state per-run times (for plots)
    # Mean time of a whole infer() call (copies in/out included): infer_ms - latency.mean is the
    # per-call cost an app pays around the runtime, reported apart from the runtime's own time.
    infer_ms: float | None = None
    peak_rss_mb: float | None = None
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)

    @classmethod
    def from_json(cls, text: str) -> JobResult:
        d = json.loads(text)
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        return cls(**known)


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
        from edgekit.bench import run_in_process

        return run_in_process(self, job)


# ---------------------------------------------------------------------------------------------------------
# Quantized I/O (numpy only; used by the parent before and after a job)

_INT_RANGES = {"int8": (-128, 127), "uint8": (0, 255), "int16": (-32768, 32767)}


def quantize(x: np.ndarray, q: QuantParams) -> np.ndarray:
    """real -> q = round(real / scale) + zero_point, clipped to the dtype's range."""
    lo, hi = _INT_RANGES.get(q.dtype, (None, None))
    if lo is None or q.scale == 0:
        return x.astype(q.dtype)
    v = np.round(x.astype(np.float64) / q.scale) + q.zero_point
    return np.clip(v, lo, hi).astype(q.dtype)


def dequantize(x: np.ndarray, q: QuantParams) -> np.ndarray:
    """q -> real = scale * (q - zero_point)."""
    if q.scale == 0:
        return x.astype(np.float32)
    return (q.scale * (x.astype(np.float64) - q.zero_point)).astype(np.float32)


def quant_params(artifact: Artifact, side: str) -> dict[str, QuantParams]:
    """Quantization of the artifact's ``inputs`` or ``outputs``, keyed by signature name."""
    return {q.name: q for q in artifact.quantization.get(side, [])}


def load_npz(path: Path | str) -> dict[str, np.ndarray]:
    """Read an npz without pickles (golden data comes from users)."""
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


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
    from edgekit.errors import InputError

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
    from edgekit.errors import InputError

    sig_in, sig_out, in_names, out_names = paired_names(job)
    feeds = load_npz(job.feeds_path)
    missing = [n for n in sig_in if n not in feeds]
    if missing:
        raise InputError(f"golden inputs lack {', '.join(missing)}; they hold {', '.join(feeds) or 'nothing'}")
    return PairedIO(sig_in, sig_out, in_names, out_names, feeds)
