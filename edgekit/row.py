"""One row of the validation report: an artifact on a runtime on a device. The single definition of a
report.json ``results`` entry (docs/report.md): ``to_dict`` writes exactly these fields, in this order."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from edgekit import manifest as mf

# "regressed": passed, but worse than --baseline beyond a gate (edgekit.baseline).
STATUSES = ("pass", "fail", "error", "tampered", "unavailable", "regressed")
OPTIONAL = ("stderr_tail", "latency_samples_ms", "baseline")


@dataclass
class Row:
    artifact: str
    format: str
    variant: str
    runtime: str
    device: str
    status: str  # one of STATUSES
    reason: str | None = None
    path: str | None = None
    bytes: int | None = None
    sha256: str | None = None
    parity: dict[str, Any] | None = None  # compare.ParityResult.to_dict()
    accuracy: dict[str, float | None] | None = None  # value, source, delta
    latency_ms: dict[str, float] | None = None  # bench.summarize() of the steady-state runs
    load_ms: float | None = None
    first_ms: float | None = None
    warmup: dict[str, Any] | None = None
    infer_ms: float | None = None
    overhead_ms: float | None = None  # per-call cost around the runtime: infer_ms - p50
    peak_rss_mb: float | None = None
    threads: int | None = None
    versions: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    wall_s: float | None = None
    stderr_tail: list[str] | None = None  # written only when the worker failed and left some
    # Optional fields, written only when set (after the fields above, which schema 1 always writes):
    latency_samples_ms: list[float] | None = None  # steady-state times, <= bench.REPORT_SAMPLES, for --baseline
    baseline: dict[str, Any] | None = None  # the comparison with --baseline's row (edgekit.baseline)
    # Per-run times (thinned) for the HTML plot: kept in memory, never written to report.json.
    samples_ms: list[float] = field(default_factory=list, repr=False)

    @classmethod
    def for_artifact(cls, art: mf.Artifact, runtime: str, device: str, status: str,
                     reason: str | None = None) -> Row:
        return cls(artifact=art.id, format=art.format, variant=art.variant, runtime=runtime, device=device,
                   status=status, reason=reason, path=art.path, bytes=art.bytes, sha256=art.sha256,
                   notes=list(art.notes))

    def timed_ms(self) -> float:
        """Milliseconds spent inside the timed loops (warm-up and steady state)."""
        lat, warm = self.latency_ms or {}, self.warmup or {}
        return lat.get("count", 0) * lat.get("mean", 0.0) + warm.get("count", 0) * (warm.get("mean_ms") or 0.0)

    def to_dict(self) -> dict[str, Any]:
        """report.json's row: every field but ``samples_ms``; the optional ones only when they are set."""
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "samples_ms"}
        for name in OPTIONAL:
            if out[name] is None:
                del out[name]
        return out
