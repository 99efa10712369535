"""The job protocol between ``edgekit validate`` (the parent) and a runtime worker. A leaf module: numpy,
the standard library and the manifest records only, so the parent, every worker and every device share it.

How an artifact gets run
------------------------
``validate`` never loads a model. For each (artifact, runtime) it writes a :class:`Job` as JSON and hands
it to a device (``edgekit.devices``); the local CPU device starts one subprocess::

    python -m edgekit.runtimes.worker JOB.json

The worker builds the runner the registry (``edgekit.runtimes.REGISTRY``) names for ``job.runtime`` and
calls ``runner.run_job(job)``, which must:

1. read ``job.feeds_path`` (an ``.npz``: one array per *signature* input name, shape ``[N, ...]``,
   already in the artifact's own dtype: the parent quantizes int8/uint8 inputs before the job starts),
2. write ``job.outputs_path`` (an ``.npz``: one array per *signature* output name, shape ``[N, ...]``,
   in the artifact's own dtype: the parent dequantizes),
3. return a :class:`JobResult` (the worker writes it to ``job.result_path``): load time, first inference,
   warm-up and steady-state latency measured *inside* the runtime's process (IPC never timed), peak RSS,
   library versions, and for a failure its ``status`` and ``error_kind``.

The parent treats a missing result file, a non-zero exit, a signal (segfault on a corrupt model) or a
timeout as status ``error`` with the reason, and goes on with the next artifact.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgekit.manifest import Artifact, TensorSpec


@dataclass
class BenchSettings:
    """The benchmark_model rule: run while (count < runs or elapsed < min_time) and elapsed <= max_time.

    The same rule applies to warm-up with ``warmup`` / ``warmup_min_time``."""

    runs: int = 50
    warmup: int = 5
    min_time: float = 1.0
    max_time: float = 30.0
    warmup_min_time: float = 0.25


def default_timeout(s: BenchSettings, samples: int) -> float:
    """Seconds one worker may take: start-up (a TensorFlow import ~5 s), two loops bounded by max_time, then
    the golden pass. Generous on purpose: the timeout exists for hangs, not to police slow runtimes."""
    return 120.0 + 2 * s.max_time + 0.5 * samples


@dataclass
class Job:
    """Everything a worker needs; JSON-serializable so it can cross a process or a network boundary."""

    runtime: str  # a runtime name of edgekit.runtimes.REGISTRY, e.g. "litert"
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
    # For a failure: the row status when it is not "error" ("unavailable": no accelerator behind the library).
    status: str | None = None
    # For a failure: where it happened ("exception": the runner raised; set by the SSH device runner).
    error_kind: str | None = None
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


def load_npz(path: Path | str) -> dict[str, np.ndarray]:
    """Read an npz without pickles (golden data comes from users)."""
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}
