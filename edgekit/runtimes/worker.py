"""Worker process entry point: ``python -m edgekit.runtimes.worker JOB.json``.

Runs one job (see ``edgekit.protocol``) with the runner the registry names for ``job.runtime`` on the device
kind ``job.options["accelerator"]`` (``local`` when absent), and writes its result JSON. A Python exception
becomes a result with ``ok: false`` and exit code 1 (an accelerator that is not there: ``status:
"unavailable"``); a crash inside the runtime kills this process only, and the parent reports it. Nothing is
printed on success so the parent can keep stderr for diagnostics.
"""

from __future__ import annotations

import sys
import traceback
from pathlib import Path

from edgekit.errors import RuntimeUnavailable
from edgekit.protocol import Job, JobResult
from edgekit.runtimes import make_runner


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0] if text else ''}".strip().rstrip(":")


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        sys.stderr.write("usage: python -m edgekit.runtimes.worker JOB.json\n")
        return 2
    job = Job.from_json(Path(argv[0]).read_text(encoding="utf-8"))
    try:
        runner = make_runner(job.runtime, job.options, kind=job.options.get("accelerator") or "local")
        result = runner.run_job(job)
    except RuntimeUnavailable as e:  # no accelerator behind the library: the row says unavailable, not error
        result = JobResult(runtime=job.runtime, ok=False, error=str(e), status="unavailable")
    except Exception as e:  # any failure of the runtime is a result, not a crash of validate
        traceback.print_exc(file=sys.stderr)
        result = JobResult(runtime=job.runtime, ok=False, error=_first_line(e))
    Path(job.result_path).write_text(result.to_json(), encoding="utf-8")
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
