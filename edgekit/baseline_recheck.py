"""validate's second look at a row whose latency looks regressed against ``--baseline`` (docs/ci.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edgekit.baseline import BaselineRequest, Gates, environments, latency_delta, load_report, row_key, same_machine
from edgekit.errors import InputError

RECHECKS = 2  # a suspected latency regression is measured again in up to this many fresh worker processes


class Recheck:
    """validate's second look at a row whose latency looks regressed against the baseline: the job runs again in
    a fresh worker process, up to RECHECKS times, and the run with the lowest p50 is kept. A worker process lands
    on one core, beside whatever else runs there, for its whole life: on a shared machine its speed differs from
    the next process's by up to x1.7 (docs/ci.md). A real regression is slower in every process; placement noise
    is not. Only latency is re-measured: size and accuracy have no run-to-run noise."""

    def __init__(self, old: dict[str, Any], gates: Gates):
        self.rows = {row_key(r): r for r in old["results"]}
        self.envs = environments(old)
        self.gates = gates

    @classmethod
    def for_request(cls, req: BaselineRequest | Path | str | None) -> Recheck | None:
        """None without a usable baseline (a bad one is reported after the run, by apply_request)."""
        if req is None:
            return None
        req = req if isinstance(req, BaselineRequest) else BaselineRequest(Path(req))
        try:
            gates = Gates.parse(req.max_latency_regression, req.max_size_growth, req.max_accuracy_drop,
                                req.any_machine)
            return cls(load_report(req.path), gates)
        except InputError:
            return None

    def _slower(self, row: Any, env: dict[str, Any] | None) -> bool:
        old = self.rows.get((row.artifact, row.runtime, row.device))
        if old is None or row.status != "pass":
            return False
        same, diff = same_machine(self.envs.get(row.device), env)
        if not same and not self.gates.any_machine:
            return False
        new = {"latency_ms": row.latency_ms, "latency_samples_ms": row.latency_samples_ms}
        return bool(latency_delta(old, new, self.gates, None if same else diff)["regressed"])

    def __call__(self, row: Any, env: dict[str, Any] | None, rerun: Any) -> Any:
        """``row`` (an edgekit.row.Row), or the fastest of its re-runs when its latency looked regressed."""
        if not self._slower(row, env):
            return row
        p50s, best = [row.latency_ms["p50"]], row
        for _ in range(RECHECKS):
            again = rerun()
            if again.status != "pass" or not again.latency_ms:
                break
            p50s.append(again.latency_ms["p50"])
            if again.latency_ms["p50"] < best.latency_ms["p50"]:
                best = again
            if not self._slower(again, env):
                break
        best.notes.append(f"latency looked regressed against the baseline: measured in {len(p50s)} worker "
                          f"processes, p50 {', '.join(f'{v:.4g}' for v in p50s)} ms; the fastest is kept")
        return best
