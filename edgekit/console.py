"""Everything ``edgekit convert`` shows a person: a live progress table and the closing summary."""

from __future__ import annotations

import threading
import time
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.table import Table

from edgekit.manifest import Artifact
from edgekit.report import human_bytes

err_console = Console(stderr=True)
out_console = Console()


class ConvertProgress:
    """A live table, one row per step, updated from converter threads."""

    def __init__(self, ids: list[str], stream: Any = None):
        self.rows: dict[str, dict[str, Any]] = {}
        self.rows.update({i: {"state": "waiting", "t0": None, "art": None} for i in ids})
        self.lock = threading.Lock()
        console = Console(file=stream) if stream is not None else err_console
        self.live = Live(self._table(), console=console, refresh_per_second=4, transient=True)

    def __enter__(self) -> ConvertProgress:
        self.live.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.live.update(self._table())
        self.live.__exit__(*exc)

    def hook(self, step: str, state: str, art: Artifact | None) -> None:
        with self.lock:
            row = self.rows.setdefault(step, {"state": "waiting", "t0": None, "art": None})
            if state == "running":
                row["t0"] = time.perf_counter()
            elif row["t0"] is not None:
                row["elapsed"] = time.perf_counter() - row["t0"]
            row["state"], row["art"] = state, art
            self.live.update(self._table())

    def _table(self) -> Table:
        t = Table(title="edgekit convert", expand=False)
        for col in ("step", "state", "time", "size"):
            t.add_column(col)
        for step, row in self.rows.items():
            label = "load + export SavedModel" if step == "load" else step
            state = row["state"]
            style = {"done": "green", "failed": "red", "running": "yellow"}.get(state, "dim")
            if state == "running" and row["t0"] is not None:
                secs = f"{time.perf_counter() - row['t0']:.1f}s"
            else:
                secs = f"{row['elapsed']:.1f}s" if "elapsed" in row else ""
            size = human_bytes(row["art"].bytes) if row["art"] is not None else ""
            t.add_row(label, f"[{style}]{state}[/]", secs, size)
        return t


def print_convert_summary(result: Any) -> None:
    m = result.manifest
    t = Table(title=f"{result.out}  ({result.seconds:.1f} s)")
    for col in ("artifact", "status", "size", "time", "notes"):
        t.add_column(col, overflow="fold")
    for a in m.artifacts:
        status = "[green]ok[/]" if a.ok else f"[red]{'not runnable' if a.status == 'not-runnable' else 'failed'}[/]"
        rc = a.run_check  # convert's TF.js run check (edgekit/formats/tfjs_check.py): said when not clean
        notes = escape(a.reason or "") if not a.ok else "; ".join(
            ([f"TF.js check {rc.status}: {escape(rc.reason or '')}"] if rc and rc.status != "runnable" else [])
            + (["needs Flex delegate"] if a.requires_flex else [])
            + ([f"LSTM: {a.converter['options']['lstm_lowering']}"]
               if a.converter.get("options", {}).get("lstm_lowering") else [])
            + ([f"io {a.quantization['inputs'][0].dtype}"] if a.quantization["inputs"] else []))
        t.add_row(a.id, status, human_bytes(a.bytes), f"{a.seconds or 0:.1f}s", notes or "")
    out_console.print(t)
    if m.text and m.text.get("mode") == "split":  # a text model (docs/text.md)
        ids = m.inputs[0]
        out_console.print(f"text model split: {m.text.get('tokenizer')} ({m.text.get('kind')}) tokenizes in the app; "
                          f"the artifacts take {ids.name} ({ids.dtype} {ids.shape})", markup=False, soft_wrap=True)
    for a in m.artifacts:  # --int8-max-drop: what the search chose (edgekit/formats/int8_budget.py)
        if a.extra.get("int8_search"):
            out_console.print(f"{a.id}: {a.extra['int8_search'].get('summary', '')}", markup=False, soft_wrap=True)
    for w in m.warnings:
        out_console.print(f"[bold yellow]warning:[/] {escape(w)}")  # a pip command's [extra] is no markup
    failed = [a.id for a in m.artifacts if not a.ok]
    if failed:
        what = "failed or not runnable" if any(a.status == "not-runnable" for a in m.artifacts) else "failed"
        out_console.print(f"[red]{len(failed)} format(s) {what}:[/] {', '.join(failed)} (exit code 1)")
    out_console.print(f"manifest: {result.out / 'manifest.json'}   next: edgekit validate {result.out}")
