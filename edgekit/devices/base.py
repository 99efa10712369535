"""The Device seam: run a job somewhere, return what came back (or why nothing did).

A device kind says only *where* jobs run; which runtimes run which formats there is the registry's
(``edgekit.runtimes.REGISTRY``, keyed by :attr:`Device.kind`)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

from edgekit.protocol import Job, JobResult


@dataclass
class JobOutcome:
    """A worker's result, or the reason there is none (crash, timeout, missing result file)."""

    result: JobResult | None
    error: str | None = None
    wall_s: float = 0.0
    stderr_tail: list[str] = field(default_factory=list)
    # Row status when there is an error: "error" (default) or "unavailable" (no accelerator, no library).
    status: str | None = None


class Device(ABC):
    name: str = ""
    kind: str = ""
    threads: int | None = None  # the profile's thread count; None: validate's default
    local: bool = True  # jobs run on this machine, so its runtime libraries must be installed

    def describe(self) -> dict[str, Any]:
        """What goes into report.json's ``device`` (and the environment fingerprint of the device)."""
        return {"name": self.name, "kind": self.kind}

    def runtimes(self, fmt: str) -> list[str] | None:
        """Runtimes that execute ``fmt`` here ([] when none exists); None when this device never runs the
        format (an SSH board runs TFLite only), so it gets no rows for it instead of noise."""
        from edgekit.runtimes import runtimes_for

        return runtimes_for(fmt, self.kind)

    def runner_options(self) -> dict[str, Any]:
        """Options this device adds to every job's runner (an accelerator, a delegate library)."""
        return {}

    def unavailable_reason(self, runtime: str) -> str | None:
        """None when ``runtime`` can run on this device, else why not (checked before any job starts): the
        registry's checks for this device kind. A board (``local`` False) answers for itself when probed."""
        if not self.local:
            return None
        from edgekit.runtimes import unavailable_reason

        return unavailable_reason(runtime, self.kind, self.runner_options())

    def preflight(self, artifact: Any) -> list[str]:
        """Warnings about ``artifact`` on this device, known before anything is copied or run."""
        return []

    @abstractmethod
    def run(self, job: Job, timeout_s: float) -> JobOutcome:
        """Run ``job``; its outputs/result paths are on this machine once this returns."""
