"""Worker entry point for accelerator devices: ``python -m edgekit.devices.accel_worker JOB.json``.

The same protocol as ``edgekit.runtimes.worker``; the runner comes from ``edgekit.devices.accel`` and an
accelerator that is not there is written as ``status="unavailable"`` in the JobResult, so the parent can
tell "no GPU" (unavailable) from "the GPU run broke" (error).
"""

from __future__ import annotations

import sys
import traceback
from pathlib import Path

from edgekit.protocol import Job, JobResult


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        sys.stderr.write("usage: python -m edgekit.devices.accel_worker JOB.json\n")
        return 2
    from edgekit.devices.accel import Unavailable, make_accel_runner

    job = Job.from_json(Path(argv[0]).read_text(encoding="utf-8"))
    try:
        runner = make_accel_runner(job)
        result = runner.run_job(job)
        result.notes += list(getattr(runner, "notes", []))
    except Unavailable as e:
        result = JobResult(runtime=job.runtime, ok=False, error=str(e), status="unavailable")
    except Exception as e:  # a broken accelerated run is a result (status error), not a crash of validate
        traceback.print_exc(file=sys.stderr)
        first = (str(e).strip().splitlines() or [""])[0]
        result = JobResult(runtime=job.runtime, ok=False, error=f"{type(e).__name__}: {first}".rstrip(": "))
    Path(job.result_path).write_text(result.to_json(), encoding="utf-8")
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
