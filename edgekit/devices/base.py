"""The Device seam: run a job somewhere, return what came back (or why nothing did)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

from edgekit.runtimes.base import Job, JobResult


@dataclass
class JobOutcome:
    """A worker's result, or the reason there is none (crash, timeout, missing result file)."""

    result: JobResult | None
    error: str | None = None
    wall_s: float = 0.0
    stderr_tail: list[str] = field(default_factory=list)


class Device(ABC):
    name: str = ""
    kind: str = ""

    def describe(self) -> dict[str, Any]:
        """What goes into report.json's ``device`` (and the environment fingerprint of the device)."""
        return {"name": self.name, "kind": self.kind}

    @abstractmethod
    def run(self, job: Job, timeout_s: float) -> JobOutcome:
        """Run ``job``; its outputs/result paths are on this machine once this returns."""
