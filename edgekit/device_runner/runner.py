#!/usr/bin/env python3
# ruff: noqa: B905, UP036  (this file runs on the device's Python 3.9+: zip() has no strict= there)
"""edgekit's single-file device runner: run one .tflite job on a board and report outputs and timings.

Needs only the standard library, numpy, and ``ai_edge_litert`` or ``tflite_runtime`` (Python 3.9+); edgekit
itself is never installed on the device. Two ways in:

``python3 runner.py JOB.json``
    Run a job whose files sit next to JOB.json (for debugging on a board by hand). Writes the outputs
    ``.npz`` and the result JSON the job names.

``python3 -c BOOTSTRAP N serve PARENT NAME TIMEOUT`` (what ``edgekit validate --device rpi`` sends)
    stdin carries this file's source (N bytes) and then a tar holding job.json, the feeds and the model.
    The runner creates PARENT/NAME (a fresh name chosen by the host; PARENT empty = the temp dir), unpacks
    there, runs the job in a forked child with a deadline, writes a marker line and a tar of the result
    and the outputs on stdout, and removes the folder in every case (error, timeout, hang-up).

``python3 -c BOOTSTRAP N probe RUNTIME``
    Print the device fingerprint and whether the runtime imports, without running anything.

Latency follows the same rule as ``edgekit validate`` on the host (TFLite's benchmark_model rule): keep
running while (count < runs or elapsed < min_time) and elapsed <= max_time; only ``invoke()`` (and the
state reset that a fused LSTM needs before every inference) sits between the clock reads.
Parity is not judged here: the outputs go back to the host, which compares them with the reference.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
import traceback

MARKER = b"\n--edgekit-device-runner-result--\n"
RUNNER_NAME = "edgekit_runner.py"
RESERVED = ("job.json", "feeds.npz", "outputs.npz", "result.json", RUNNER_NAME)
EXIT_OK, EXIT_FAILED, EXIT_RUNTIME_MISSING = 0, 1, 3
RUNTIMES = {
    "auto": ("ai_edge_litert", "tflite_runtime"),
    "ai_edge_litert": ("ai_edge_litert",),
    "tflite_runtime": ("tflite_runtime",),
}
PIP_NAMES = {"ai_edge_litert": "ai-edge-litert", "tflite_runtime": "tflite-runtime"}
INSTALL_HINT = {
    "ai_edge_litert": "pip install ai-edge-litert (wheels for Python 3.10-3.14 on aarch64 and x86_64)",
    "tflite_runtime": "pip install tflite-runtime (wheels for Python 3.8-3.11; needs numpy<2)",
}


class RuntimeMissing(Exception):
    """numpy or the TFLite runtime is not importable on the device: say which pip package to install."""


# ---------------------------------------------------------------------------------------------------------
# Runtime and fingerprint


def _dist_version(dist: str, module: object) -> str:
    try:
        from importlib.metadata import version

        return version(dist)
    except Exception:  # metadata missing (a runtime copied by hand): fall back to the module's own
        return str(getattr(module, "__version__", "unknown"))


def load_runtime(choice: str) -> tuple[str, str, object, object]:
    """(module name, version, Interpreter class, load_delegate) for the profile's ``runtime`` choice."""
    try:
        import numpy  # noqa: F401  (the runner cannot do anything without it)
    except ImportError as e:
        raise RuntimeMissing(f"numpy is not installed for {sys.executable} on the device: pip install numpy") from e
    tried = []
    for name in RUNTIMES.get(choice, RUNTIMES["auto"]):
        try:
            if name == "ai_edge_litert":
                import ai_edge_litert as mod
                from ai_edge_litert.interpreter import Interpreter, load_delegate
            else:
                import tflite_runtime as mod  # type: ignore[no-redef]
                from tflite_runtime.interpreter import Interpreter, load_delegate  # type: ignore[no-redef]
        except ImportError as e:
            tried.append(f"{name} ({e})")
            continue
        return name, _dist_version(PIP_NAMES[name], mod), Interpreter, load_delegate
    wanted = RUNTIMES.get(choice, RUNTIMES["auto"])
    hint = " or ".join(INSTALL_HINT[n] for n in wanted)
    raise RuntimeMissing(f"no TFLite runtime on the device for Python {platform.python_version()}: {hint}")


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read().strip().strip("\x00")
    except OSError:
        return None


def _cpu_model() -> str:
    info = _read("/proc/cpuinfo") or ""
    found = {}
    for line in info.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key in ("model name", "Model", "Hardware", "Processor", "cpu model") and key not in found:
            found[key] = value.strip()
    # A Pi reports its board in "Model" and the SoC in "Hardware"; x86 has "model name".
    for key in ("Model", "model name", "cpu model", "Processor", "Hardware"):
        if key in found:
            return found[key]
    return platform.processor() or platform.machine()


def _vcgencmd(*args: str) -> str | None:
    exe = shutil.which("vcgencmd")
    if not exe:
        return None
    try:
        out = subprocess.run([exe, *args], capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def thermal() -> dict:
    """Temperature and throttling flags where the board exposes them (vcgencmd on a Pi, sysfs elsewhere)."""
    out: dict = {"temperature_c": None, "throttled": None}
    raw = _read("/sys/class/thermal/thermal_zone0/temp")
    if raw and raw.lstrip("-").isdigit():
        out["temperature_c"] = int(raw) / 1000.0
    temp = _vcgencmd("measure_temp")  # temp=48.3'C
    if temp and "=" in temp:
        try:
            out["temperature_c"] = float(temp.split("=", 1)[1].split("'")[0])
        except ValueError:
            pass
    thr = _vcgencmd("get_throttled")  # throttled=0x0; bits: 0 under-voltage, 1 freq capped, 2 throttled now
    if thr and "=" in thr:
        value = thr.split("=", 1)[1]
        out["throttled"] = value
        try:
            bits = int(value, 16)
            out["throttled_now"] = {"under_voltage": bool(bits & 1), "freq_capped": bool(bits & 2),
                                    "throttled": bool(bits & 4), "soft_temp_limit": bool(bits & 8)}
            out["throttled_since_boot"] = bool(bits & 0xF0000)
        except ValueError:
            pass
    return out


def fingerprint() -> dict:
    try:
        usable = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        usable = os.cpu_count()
    fp = {
        "cpu": _cpu_model(),
        "machine": platform.machine(),
        "cores": os.cpu_count(),
        "usable_cores": usable,
        "governor": _read("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor"),
        "board": _read("/proc/device-tree/model"),
        "os": platform.platform(),
        "python": platform.python_version(),
    }
    fp.update(thermal())
    try:
        import numpy

        fp["numpy"] = numpy.__version__
    except ImportError:
        fp["numpy"] = None
    return fp


# ---------------------------------------------------------------------------------------------------------
# Timing: the same rule as edgekit.bench.run_loop. A copy, because this file runs where edgekit is not
# installed; tests/test_devices.py checks the two stay the same code.


def run_loop(fn, runs: int, min_time: float, max_time: float) -> tuple[list, float]:
    clock = time.perf_counter_ns
    times = []
    start = clock()
    min_ns, max_ns = min_time * 1e9, max_time * 1e9
    elapsed = 0
    while (len(times) < runs or elapsed < min_ns) and elapsed <= max_ns:
        t0 = clock()
        fn()
        t1 = clock()
        times.append((t1 - t0) / 1e6)
        elapsed = t1 - start
    return times, elapsed / 1e9


def summarize(times: list) -> dict:
    import numpy as np

    if not times:
        return {"count": 0}
    a = np.asarray(times, dtype=np.float64)
    p50, p90, p99 = np.percentile(a, [50, 90, 99])
    return {"count": int(a.size), "min": float(a.min()), "max": float(a.max()), "mean": float(a.mean()),
            "std": float(a.std()), "p50": float(p50), "p90": float(p90), "p99": float(p99)}


def thin(times: list, most: int = 2000) -> list:
    step = max(1, -(-len(times) // most))
    return list(times[::step])


def peak_rss_mb() -> float | None:
    for line in (_read("/proc/self/status") or "").splitlines():
        if line.startswith("VmHWM:"):  # ru_maxrss survives exec/fork from a bigger parent; VmHWM does not
            return int(line.split()[1]) / 1024
    try:
        import resource

        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return rss / (1024 * 1024) if sys.platform == "darwin" else rss / 1024
    except ImportError:
        return None


class Fd2Capture:
    """Capture what native code writes to fd 2 (the XNNPACK banner), then echo it for diagnostics."""

    def __enter__(self) -> Fd2Capture:
        sys.stderr.flush()
        self._tmp = tempfile.TemporaryFile()
        self._saved = os.dup(2)
        os.dup2(self._tmp.fileno(), 2)
        self.text = ""
        return self

    def __exit__(self, *exc: object) -> None:
        sys.stderr.flush()
        os.dup2(self._saved, 2)
        os.close(self._saved)
        self._tmp.seek(0)
        self.text = self._tmp.read().decode("utf-8", "replace")
        self._tmp.close()
        if self.text:
            sys.stderr.write(self.text)


# ---------------------------------------------------------------------------------------------------------
# One job


def signature_indices(interp, sig_in: list, sig_out: list, names_in: list, names_out: list) -> tuple[dict, dict]:
    """Tensor indices keyed by signature input/output names: through the .tflite's signature when it has one
    (io_names are its own tensor names, in signature order), else by position."""
    sigs = interp._get_full_signature_list() if hasattr(interp, "_get_full_signature_list") else {}
    key = "serving_default" if "serving_default" in sigs else (next(iter(sigs)) if len(sigs) == 1 else None)
    if key is not None:
        sig = sigs[key]
        missing = [n for n in names_in if n not in sig["inputs"]]
        missing += [n for n in names_out if n not in sig["outputs"]]
        if missing:
            raise ValueError(f"the .tflite signature {key!r} has no tensor named {missing}")
        return ({s: sig["inputs"][n] for s, n in zip(sig_in, names_in)},
                {s: sig["outputs"][n] for s, n in zip(sig_out, names_out)})
    ins, outs = interp.get_input_details(), interp.get_output_details()
    if len(ins) != len(names_in) or len(outs) != len(names_out):
        raise ValueError(f"the .tflite has {len(ins)} inputs / {len(outs)} outputs and no signature")
    return {n: d["index"] for n, d in zip(sig_in, ins)}, {n: d["index"] for n, d in zip(sig_out, outs)}


def timed_loops(invoke, bench: dict) -> dict:
    """Warm-up, then the steady-state loop, both by the benchmark_model rule: the result's timing fields."""
    warm_runs, warm_min = int(bench.get("warmup", 5)), float(bench.get("warmup_min_time", 0.25))
    max_time = float(bench.get("max_time", 30.0))
    wt, we = run_loop(invoke, warm_runs, warm_min, max_time) if (warm_runs > 0 or warm_min > 0) else ([], 0.0)
    times, _ = run_loop(invoke, int(bench.get("runs", 50)), float(bench.get("min_time", 1.0)), max_time)
    return {"warmup": {"count": len(wt), "mean_ms": (sum(wt) / len(wt)) if wt else None, "elapsed_s": we},
            "latency": summarize(times), "samples_ms": thin(times)}


def golden_pass(interp, stage, invoke, idx_out: dict, feeds: dict) -> tuple[dict, float | None]:
    """Every golden sample through stage/invoke/read: (outputs per signature name, median ms of a whole call)."""
    import numpy as np

    n = min(len(v) for v in feeds.values()) if feeds else 0
    collected: dict = {k: [] for k in idx_out}
    infer_times = []
    for i in range(n):
        t0 = time.perf_counter()
        stage(i)
        invoke()
        out = {k: interp.get_tensor(index) for k, index in idx_out.items()}
        infer_times.append((time.perf_counter() - t0) * 1e3)
        for k, v in out.items():
            collected[k].append(np.asarray(v))
    return collected, (float(np.median(infer_times)) if infer_times else None)


def open_interpreter(Interpreter, model_path: str, job: dict, delegates: list) -> tuple:  # noqa: N803
    """The interpreter with its tensors allocated, and the milliseconds that took."""
    t0 = time.perf_counter()
    kwargs = {"model_path": model_path, "num_threads": int(job.get("threads", 1))}
    if delegates:
        kwargs["experimental_delegates"] = delegates
    interp = Interpreter(**kwargs)
    interp.allocate_tensors()
    return interp, (time.perf_counter() - t0) * 1e3


def run_job(job: dict, base: str) -> dict:
    """Load, time, run every golden sample; write the outputs npz; return the result record."""
    import numpy as np

    result: dict = {"runtime": job.get("runtime", "litert"), "ok": True, "error": None, "notes": [],
                    "threads": job.get("threads", 1)}
    options = job.get("options") or {}
    name, version, Interpreter, load_delegate = load_runtime(options.get("runtime", "auto"))
    result["versions"] = {PIP_NAMES[name]: version, "numpy": np.__version__, "python": platform.python_version()}
    result["runtime_module"] = name

    def path(key: str) -> str:
        return os.path.join(base, job[key])

    art = job["artifact"]
    with np.load(path("feeds_path"), allow_pickle=False) as z:
        feeds = {k: z[k] for k in z.files}
    sig_in = [t["name"] for t in job["inputs"]]
    sig_out = [t["name"] for t in job["outputs"]]
    io = art.get("io_names") or {}
    names_in = list(io.get("inputs") or sig_in)
    names_out = list(io.get("outputs") or sig_out)
    reset = bool(art.get("requires_state_reset"))
    bench = job.get("bench") or {}

    delegates = []
    if options.get("delegate"):
        delegates.append(load_delegate(options["delegate"], options.get("delegate_options") or {}))
    with Fd2Capture() as cap:
        interp, result["load_ms"] = open_interpreter(Interpreter, path("artifact_path"), job, delegates)
        idx_in, idx_out = signature_indices(interp, sig_in, sig_out, names_in, names_out)
        dtypes = {d["index"]: d["dtype"] for d in interp.get_input_details()}

        def stage(i: int) -> None:
            for n, index in idx_in.items():
                interp.set_tensor(index, np.ascontiguousarray(feeds[n][i:i + 1]).astype(dtypes[index], copy=False))

        def invoke() -> None:
            if reset:  # timed on purpose: an app pays for the fused LSTM's reset before every inference too
                interp.reset_all_variables()
            interp.invoke()

        stage(0)
        t0 = time.perf_counter()
        invoke()
        result["first_ms"] = (time.perf_counter() - t0) * 1e3
    # The XNNPACK banner is printed once, when the default delegate is applied (at allocation or first run).
    result["xnnpack"] = "XNNPACK" in cap.text
    if delegates:
        result["notes"].append(f"delegate {os.path.basename(options['delegate'])} loaded")

    result.update(timed_loops(invoke, bench))

    collected, result["infer_ms"] = golden_pass(interp, stage, invoke, idx_out, feeds)
    np.savez(path("outputs_path"), **{k: np.concatenate(v, axis=0) for k, v in collected.items() if v})
    result["peak_rss_mb"] = peak_rss_mb()
    result["thermal_after"] = thermal()
    return result


def run_job_file(job_path: str) -> int:
    """Run JOB.json and always write its result file; the exit code says what happened."""
    with open(job_path, encoding="utf-8") as f:
        job = json.load(f)
    base = os.path.dirname(os.path.abspath(job_path))
    result_path = os.path.join(base, job["result_path"])
    rc = EXIT_OK
    try:
        result = run_job(job, base)
    except RuntimeMissing as e:
        result, rc = {"runtime": job.get("runtime"), "ok": False, "error": str(e), "error_kind": "runtime_missing"}, \
            EXIT_RUNTIME_MISSING
    except Exception as e:  # the runtime's own error is a result for the host, not a crash
        traceback.print_exc()
        first = (str(e).strip().splitlines() or [""])[0]
        result = {"runtime": job.get("runtime"), "ok": False, "error": f"{type(e).__name__}: {first}".rstrip(": "),
                  "error_kind": "exception"}
        rc = EXIT_FAILED
    result["fingerprint"] = fingerprint()
    tmp = result_path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(result, f)
    os.replace(tmp, result_path)
    return rc


# ---------------------------------------------------------------------------------------------------------
# serve: unpack from stdin, run with a deadline, send back, clean up


class _HangUp(BaseException):
    pass


def _on_signal(signum: int, frame: object) -> None:
    raise _HangUp(signum)


def _extract(stream, dest: str) -> None:
    """Plain files only, flat names only: the archive comes from the host, but never trust a path."""
    with tarfile.open(fileobj=stream, mode="r|") as tar:
        for m in tar:
            name = m.name
            if not m.isfile() or name in ("", ".", "..") or "/" in name or "\\" in name or "\x00" in name:
                raise ValueError(f"refusing archive member {name!r}")
            src = tar.extractfile(m)
            with open(os.path.join(dest, name), "wb") as out:
                shutil.copyfileobj(src, out)


def _write_result(path: str, error: str, kind: str) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"ok": False, "error": error, "error_kind": kind, "fingerprint": fingerprint()}, f)


def _run_child(work: str, timeout: float) -> None:
    """Run the job in a forked child (a crashing runtime must not take the cleanup with it) under a deadline."""
    job_path = os.path.join(work, "job.json")
    result_path = os.path.join(work, "result.json")
    if not hasattr(os, "fork"):
        run_job_file(job_path)
        return
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # child: stdout is the result channel, so everything it prints goes to stderr
        rc = EXIT_FAILED
        try:
            os.dup2(2, 1)
            for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
                signal.signal(sig, signal.SIG_DFL)
            rc = run_job_file(job_path)
        except BaseException:
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(rc)
    deadline = time.monotonic() + timeout
    try:
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                _write_result(result_path, f"remote timeout: the job ran longer than {timeout:g} s on the device "
                              "(raise --timeout, or lower --runs/--min-time/--max-time)", "timeout")
                return
            time.sleep(0.02)
    except BaseException:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        raise
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        try:
            sname = signal.Signals(sig).name
        except ValueError:
            sname = f"signal {sig}"
        _write_result(result_path, f"the runtime crashed on the device ({sname})", "crash")
    elif not os.path.isfile(result_path):
        _write_result(result_path, f"the device runner exited with {os.WEXITSTATUS(status)} and wrote no result",
                      "exit")


def serve(parent: str, name: str, timeout: float, source: bytes | None) -> int:
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT, signal.SIGPIPE):
        signal.signal(sig, _on_signal)  # a dropped connection still runs the finally below
    base = os.path.expanduser(parent) if parent else tempfile.gettempdir()
    work = os.path.join(base, name)
    os.mkdir(work, 0o700)  # fails if it exists: the host picked a fresh name, so a clash is never reused
    try:
        if source is not None:
            with open(os.path.join(work, RUNNER_NAME), "wb") as f:
                f.write(source)
        _extract(sys.stdin.buffer, work)
        _run_child(work, timeout)
        out = sys.stdout.buffer
        out.write(MARKER)
        with tarfile.open(fileobj=out, mode="w|") as tar:
            for fname in ("result.json", "outputs.npz"):
                p = os.path.join(work, fname)
                if os.path.isfile(p):
                    tar.add(p, arcname=fname)
        out.flush()
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


def probe(runtime: str) -> int:
    info: dict = {"fingerprint": fingerprint(), "runtime": None, "runtime_version": None, "error": None}
    if sys.version_info < (3, 9):
        info["error"] = f"Python {platform.python_version()} on the device is too old: the runner needs 3.9+"
    else:
        try:
            name, version, _, _ = load_runtime(runtime)
            info["runtime"], info["runtime_version"] = name, version
        except RuntimeMissing as e:
            info["error"] = str(e)
    out = sys.stdout.buffer
    out.write(MARKER + json.dumps(info).encode("utf-8"))
    out.flush()
    return 0


def main(argv: list) -> int:
    if argv and argv[0].isdigit():  # started by the bootstrap: argv[0] is the source length it read
        argv = argv[1:]
    source = globals().get("_EDGEKIT_SOURCE")
    if len(argv) == 4 and argv[0] == "serve":
        return serve(argv[1], argv[2], float(argv[3]), source)
    if len(argv) == 2 and argv[0] == "probe":
        return probe(argv[1])
    if len(argv) == 1 and argv[0].endswith(".json"):
        return run_job_file(argv[0])
    sys.stderr.write("usage: runner.py JOB.json | serve PARENT NAME TIMEOUT | probe RUNTIME\n")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
