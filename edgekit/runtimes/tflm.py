"""TensorFlow Lite for Microcontrollers: the real TFLM C++ interpreter (``tflite-micro``'s Python bindings).

Three things live here, all over the installed runtime (never a hand-kept list):

- :func:`supported_builtin_ops`: the builtin ops whose kernels the installed TFLM was built with (each kernel
  exports a ``Register_<OP>`` function from the runtime's shared library);
- :func:`probe`: load a model in a fixed arena, invoke it once, and find the smallest arena it allocates and
  invokes in (a search over arena sizes, cross-checked by TFLM's own ``RecordingMicroAllocator`` figure). It runs
  in a child process (:func:`run_probe`, ``python -m edgekit.runtimes.tflm MODEL``): TFLM prints its failures
  to stderr, which the child's parent keeps, and a native crash costs the probe, not the conversion;
- :class:`TflmRunner`: validate's runner. Latency is a host timing of TFLM's *reference* kernels on x86-64, not
  a board timing (boards run optimized CMSIS-NN / ESP-NN kernels on a far slower CPU).

Imports ``tflite_micro`` only inside functions: naming the runtime never loads it.
"""

from __future__ import annotations

import contextlib
import faulthandler
import importlib.util
import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from edgekit.errors import InputError
from edgekit.protocol import Job
from edgekit.runtimes.base import InProcessRunner, paired_names

PACKAGE = "tflite-micro"
INSTALL = "pip install tflite-micro (x86-64 Linux, Python 3.11 wheels)"
MODEL_FILE = "model.tflite"  # the model inside the tflm artifact folder
ALIGN = 16  # TFLM aligns the arena to 16 bytes (MicroArenaBufferAlignment); the search steps by it
ARENA_LIMIT = 64 << 20  # no microcontroller has more RAM than this: a model needing more is refused
_TOTAL = re.compile(r"Arena allocation total (\d+) bytes")
_REGISTER = re.compile(rb"Register_([A-Z][A-Z0-9_]*)Ev")


def unavailable_reason(options: Mapping[str, Any] | None = None) -> str | None:
    """The registry's availability check: ``tflite_micro`` is importable (cheap: no import)."""
    if importlib.util.find_spec("tflite_micro") is None:
        return f"TFLite Micro is not installed: {INSTALL}"
    return None


def version() -> str:
    """``0.dev<date>-g<commit>``: the tflite-micro build, with the TFLM commit it was built from."""
    import tflite_micro

    return str(tflite_micro.__version__)


def supported_builtin_ops() -> frozenset[str]:
    """Builtin op names with a kernel in the installed TFLM (its ``Register_<OP>`` exports), as schema names."""
    import tflite_micro  # noqa: F401  (the package must load: the library below is its extension)
    from tflite_micro.python.tflite_micro import _runtime
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

    exported = {m.decode() for m in _REGISTER.findall(Path(_runtime.__file__).read_bytes())}
    builtin = {k for k in vars(schema.BuiltinOperator) if not k.startswith("_")}
    return frozenset(exported & builtin)


@contextlib.contextmanager
def captured_stderr() -> Iterator[list[str]]:
    """Collect what native code writes to file descriptor 2 meanwhile (TFLM's MicroPrintf) into a list of lines.

    Only for single-threaded processes of our own (the probe child, the validate worker): fd 2 is process-wide."""
    lines: list[str] = []
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            yield lines
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            lines += [ln for ln in tmp.read().decode("utf-8", "replace").splitlines() if ln.strip()]


def _interpreter(data: bytes, arena: int) -> Any:
    from tflite_micro import runtime

    return runtime.Interpreter.from_bytes(data, arena_size=int(arena))


def _invoke_zeros(interp: Any, n_inputs: int) -> None:
    for i in range(n_inputs):
        d = interp.get_input_details(i)
        interp.set_input(np.zeros(tuple(int(s) for s in d["shape"]), dtype=d["dtype"]), i)
    interp.invoke()


def fits(data: bytes, arena: int, n_inputs: int | None = None) -> bool:
    """Whether the model allocates and invokes in an arena of ``arena`` bytes, tried in a forked child.

    A child because a too-small arena can crash TFLM instead of failing: kernels check a failed allocation and
    go on (SIGSEGV after "conv_common.cc:147 output != nullptr was not true" for a conv net, after
    "lstm_eval.cc:60 internal_tensors_[kLstmOutputStateTensor] != nullptr" for the int8 LSTM). On a board that
    is a hard fault, not an error status: declare at least the measured arena."""
    if n_inputs is None:
        n_inputs = len(set(io_positions(data)[0].values()))
    pid = os.fork()
    if pid == 0:  # the child: try, answer with the exit status, never return into the parent's code
        code = 1
        try:
            faulthandler.disable()  # the crash is expected and answered by the exit status: no stack dump
            _invoke_zeros(_interpreter(data, arena), n_inputs)
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0


def arena_total(interp: Any) -> int | None:
    """TFLM's own count of the arena bytes in use (RecordingMicroAllocator), read after an invoke."""
    with captured_stderr() as lines:
        interp.print_allocations()
    totals = [int(m.group(1)) for ln in lines if (m := _TOTAL.search(ln))]
    return totals[0] if totals else None


def smallest_arena(data: bytes, n_inputs: int, recorded: int) -> int:
    """The smallest arena (a multiple of ALIGN) the model allocates and invokes in, by bisection.

    TFLM's recorded figure (the bytes in use after an invoke) is where the search starts: a model may need more
    while it prepares (the LSTM kernel's temporaries), never less."""
    hi = -(-max(recorded, ALIGN) // ALIGN) * ALIGN
    lo = hi - ALIGN  # known to fail, or below anything that could work
    while not fits(data, hi, n_inputs):
        if hi >= ARENA_LIMIT:
            raise RuntimeError(f"the model does not run in a {ARENA_LIMIT >> 20} MiB arena")
        lo, hi = hi, min(hi * 2, ARENA_LIMIT)
    while hi - lo > ALIGN:
        mid = (lo + hi) // 2 // ALIGN * ALIGN
        lo, hi = (lo, mid) if fits(data, mid, n_inputs) else (mid, hi)
    return hi


def probe(data: bytes) -> dict[str, Any]:
    """Load ``data`` in TFLM, invoke it once on zeros, measure its arena. Never raises for a model TFLM refuses:
    ``{"ok": False, "error": ..., "log": TFLM's own lines}``."""
    out: dict[str, Any] = {"version": version(), "supported_ops": sorted(supported_builtin_ops())}
    with captured_stderr() as log:
        try:
            interp = _interpreter(data, ARENA_LIMIT)
            n_inputs = _count_inputs(interp)
            _invoke_zeros(interp, n_inputs)
        except (RuntimeError, ValueError) as e:
            out.update(ok=False, error=str(e) or type(e).__name__)
    if out.get("ok") is False:
        out["log"] = log[-20:]
        return out
    recorded = arena_total(interp)
    del interp
    if recorded is None:
        out.update(ok=False, error="TFLM printed no arena figure (RecordingMicroAllocator)", log=[])
        return out
    with captured_stderr():  # a too-small arena makes TFLM print its failure: not news
        arena = smallest_arena(data, n_inputs, recorded)
    out.update(ok=True, arena_bytes=arena, recorded_bytes=recorded, inputs=n_inputs)
    return out


def _count_inputs(interp: Any) -> int:
    n = 0
    while True:
        try:
            interp.get_input_details(n)
        except (RuntimeError, ValueError, IndexError):
            return n
        n += 1
        if n > 64:
            return n


def run_probe(path: Path, timeout_s: float = 600.0) -> dict[str, Any]:
    """:func:`probe` in a child process: its stderr is kept, a native crash or a hang becomes ``ok: False``."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([p for p in sys.path if p] + [env.get("PYTHONPATH", "")])
    try:
        proc = subprocess.run([sys.executable, "-m", "edgekit.runtimes.tflm", str(path)], capture_output=True,
                              text=True, timeout=timeout_s, env=env, check=False)
    except subprocess.TimeoutExpired:
        return {"ok": False, "error": f"the TFLM probe did not finish in {timeout_s:g} s", "log": []}
    log = [ln for ln in proc.stderr.splitlines() if ln.strip()][-20:]
    try:
        doc = json.loads(proc.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        how = f"crashed (signal {-proc.returncode})" if proc.returncode < 0 else f"exited {proc.returncode}"
        return {"ok": False, "error": f"the TFLM interpreter {how} loading the model", "log": log}
    doc.setdefault("log", log)
    return doc


def io_positions(data: bytes) -> tuple[dict[str, int], dict[str, int]]:
    """Input and output names (signature names and tensor names) -> their index in TFLM's ``set_input`` /
    ``get_output`` order (subgraph 0's inputs and outputs), read from the flatbuffer."""
    from edgekit.tflite_inspect import load_schema

    model = load_schema().Model.GetRootAsModel(data, 0)
    sg = model.Subgraphs(0)
    sd = model.SignatureDefs(0) if model.SignatureDefsLength() else None
    result = []
    for tensors, n_sig, entry in ((sg.InputsAsNumpy(), sd and sd.InputsLength(), sd and sd.Inputs),
                                  (sg.OutputsAsNumpy(), sd and sd.OutputsLength(), sd and sd.Outputs)):
        position = {int(t): k for k, t in enumerate(tensors)}
        names = {(sg.Tensors(t).Name() or b"").decode(): k for t, k in position.items()}
        for i in range(n_sig or 0):
            if entry(i).TensorIndex() in position:
                names[entry(i).Name().decode()] = position[entry(i).TensorIndex()]
        result.append(names)
    return result[0], result[1]


def _positions(own: list[str], sig: list[str], found: dict[str, int], kind: str) -> dict[str, int]:
    missing = [n for n in own if n not in found]
    if missing:
        raise InputError(f"the TFLM model has no {kind} named {missing}; it has {sorted(found)}")
    return {s: found[n] for s, n in zip(sig, own, strict=True)}


class TflmRunner(InProcessRunner):
    """The TFLM interpreter in the worker, in the arena convert recommended (the firmware's own figure)."""

    @classmethod
    def versions(cls) -> dict[str, str]:
        return {PACKAGE: version()}

    def _open_impl(self, job: Job) -> None:
        path = Path(job.artifact_path)
        data = (path / MODEL_FILE if path.is_dir() else path).read_bytes()
        arena = ((job.artifact.get("extra") or {}).get("tflm") or {}).get("arena") or {}
        size = int(arena.get("recommended_bytes") or ARENA_LIMIT)
        # Tried in a forked child first: TFLM may crash on an arena that is too small instead of failing.
        if not fits(data, size):
            raise InputError(f"TFLM cannot allocate the model in the recommended arena of {size} bytes; "
                             "convert again (edgekit convert --formats tflm) to measure it")
        self._interp = _interpreter(data, size)
        sig_in, sig_out, own_in, own_out = paired_names(job)
        pos_in, pos_out = io_positions(data)
        self._in = _positions(own_in, sig_in, pos_in, "input")
        self._out = _positions(own_out, sig_out, pos_out, "output")
        self._dtype = {n: self._interp.get_input_details(i)["dtype"] for n, i in self._in.items()}
        self._reset = bool(job.artifact.get("requires_state_reset"))
        self._size, self._arena_noted = size, False

    def _stage_impl(self, feeds: dict[str, np.ndarray]) -> None:
        self._staged = [(index, np.ascontiguousarray(feeds[name].astype(self._dtype[name], copy=False)))
                        for name, index in self._in.items()]

    def _invoke_impl(self) -> None:
        if self._reset:
            # Timed on purpose, as for LiteRT: a fused LSTM keeps its state, the firmware resets it per sequence.
            self._interp.reset()
        # Copied in before every invoke, and timed: TFLM's memory planner lets later tensors reuse an input's
        # buffer once it is consumed (the digit-rows LSTM's second invoke read garbage token ids and GATHER
        # failed), so firmware writes the input before each Invoke() too.
        for index, value in self._staged:
            self._interp.set_input(value, index)
        self._interp.invoke()

    def _infer_impl(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        self._stage_impl(feeds)
        self._invoke_impl()
        if not self._arena_noted:
            self._arena_noted = True
            used = arena_total(self._interp)
            self.notes.append(f"TFLM arena used {used} of {self._size} bytes (RecordingMicroAllocator); latency is "
                              "a host (x86-64) timing of TFLM's reference kernels, not a board timing")
        return {name: np.array(self._interp.get_output(index)) for name, index in self._out.items()}

    def _close_impl(self) -> None:
        self._interp = None


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        sys.stderr.write("usage: python -m edgekit.runtimes.tflm MODEL.tflite\n")
        return 2
    doc = probe(Path(argv[0]).read_bytes())
    sys.stdout.write(json.dumps(doc) + "\n")
    sys.stdout.flush()
    os._exit(0)  # nothing to tear down


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
