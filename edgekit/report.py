"""Validation report: report.json (schema in docs/report.md), report.md, a self-contained report.html
with inline SVG plots, and the console table. The only module of validate that prints."""

from __future__ import annotations

import html
import json
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from edgekit import baseline_view, outdir
from edgekit.errors import InputError

_COLORS = {"pass": "#1a7f37", "fail": "#cf222e", "error": "#bc4c00", "tampered": "#8250df", "unavailable": "#6e7781",
           "regressed": "#cf222e"}


def public(report: dict[str, Any]) -> dict[str, Any]:
    """report.json's content: drop in-memory extras (keys starting with '_'), if a caller added any."""
    out = dict(report)
    out["results"] = [{k: v for k, v in r.items() if not k.startswith("_")} for r in report["results"]]
    return out


REPORT_FILES = {"json": "report.json", "md": "report.md", "html": "report.html"}
# report.json's JSON Schema (draft 2020-12), shipped with the package; docs/report.md links it.
SCHEMA_FILE = Path(__file__).parent / "data" / "report.schema.json"


def check_report_dir(folder: Path, root: Path, option: str = "--report", keep: Iterable[Path] = ()) -> Path:
    """Refuse, before anything runs, a report folder that cannot take the reports: a file, a folder where a
    report file goes, a path inside the validated folder ``root`` that a symlink leads out of it, or a folder
    inside one of the ``keep`` paths (artifacts: a report written there would change their sha256)."""
    folder = outdir.contained(root, Path(folder), option)
    for p in keep:
        if outdir.inside(folder, p):
            raise InputError(f"{option} {folder} lies inside the artifact {p}: the reports would change it and "
                             f"its sha256 would no longer match. Choose another {option}")
    outdir.check_writable_folder(folder, REPORT_FILES.values(), option)
    return folder


def write_reports(report: dict[str, Any], folder: Path, samples: list[list[float]] | None = None) -> dict[str, Path]:
    """Write report.json, report.md and report.html into ``folder`` (created). Each file replaces what is
    there (a symlink is replaced, never followed). ``samples``: per-run times of each row, for the plot."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise InputError(f"cannot create the report folder {folder} ({e}); give a writable --report") from e
    texts = {"json": json.dumps(public(report), indent=2, default=_jsonable) + "\n", "md": to_markdown(report),
             "html": to_html(report, samples)}
    try:
        return {k: outdir.write_text_inside(folder, REPORT_FILES[k], texts[k]) for k in REPORT_FILES}
    except OSError as e:
        raise InputError(f"cannot write the reports into {folder} ({e}); give a writable --report") from e


def _jsonable(o: Any) -> Any:
    """numpy scalars and arrays that a runtime let through, as plain numbers; anything else as text."""
    return o.tolist() if hasattr(o, "tolist") else str(o)


def not_produced_text(entry: dict[str, Any]) -> str:
    """A not_produced entry in words: convert failed, or converted but found not runnable (its TF.js check)."""
    return "converted, but not runnable (convert's run check)" if entry.get("status") == "not-runnable" else \
        "not produced by convert"


# ---------------------------------------------------------------------------------------------------------
# Cells shared by the console, Markdown and HTML tables


def _num(v: float | None, fmt: str = ".3g") -> str:
    return "-" if v is None else format(v, fmt)


def human_bytes(n: int | None) -> str:
    """Decimal units, the way app stores and bundlers report sizes; shared by convert's and validate's tables."""
    if n is None:
        return "-"
    return f"{n / 1e6:.2f} MB" if n >= 1e5 else f"{n / 1e3:.1f} kB"


def _worst(row: dict[str, Any], key: str, worst: str) -> float | None:
    vals = [o[key] for o in ((row.get("parity") or {}).get("outputs") or {}).values() if o.get(key) is not None]
    if not vals:
        return None
    return max(vals) if worst == "max" else min(vals)


COLUMNS = ("artifact", "runtime", "status", "size", "p50 ms", "p99 ms", "max_abs", "top1", "SQNR dB", "acc Δ")


def table_rows(report: dict[str, Any]) -> list[list[str]]:
    rows = []
    for r in report["results"]:
        lat = r.get("latency_ms") or {}
        acc = (r.get("accuracy") or {}).get("delta")
        rows.append([
            r["artifact"], r["runtime"], r["status"], human_bytes(r.get("bytes")), _num(lat.get("p50")),
            _num(lat.get("p99")), _num(_worst(r, "max_abs", "max")), _num(_worst(r, "top1", "min"), ".3f"),
            _num(_worst(r, "sqnr_db", "min"), ".1f"), "-" if acc is None else f"{acc:+.3f}",
        ])
    return rows


def _reasons(report: dict[str, Any]) -> list[str]:
    multi = len(report.get("devices") or []) > 1
    return [f"{r['artifact']} ({r['runtime']}{' on ' + r['device'] if multi else ''}): {r['status']}: {r['reason']}"
            for r in report["results"] if r.get("reason")]


def device_label(d: dict[str, Any]) -> str:
    """A device's column title; emulated devices say so, their timings are not the board's."""
    return f"{d['name']} (emulated)" if d.get("emulated") else d["name"]


def device_matrix(report: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """One row per artifact x runtime, one column per device: "status p50 ms" (the multi-device view)."""
    devices = report.get("devices") or [report["device"]]
    cells: dict[tuple[str, str], dict[str, str]] = {}
    for r in report["results"]:
        p50 = (r.get("latency_ms") or {}).get("p50")
        cells.setdefault((r["artifact"], r["runtime"]), {})[r["device"]] = (
            r["status"] + ("" if p50 is None else f" {_num(p50)} ms"))
    head = ["artifact", "runtime"] + [device_label(d) for d in devices]
    rows = [[a, rt] + [by_dev.get(d["name"], "-") for d in devices] for (a, rt), by_dev in cells.items()]
    return head, rows


# ---------------------------------------------------------------------------------------------------------
# Console


def print_console(report: dict[str, Any], as_json: bool = False) -> None:
    """The console table (stderr-free: everything on stdout), or report.json on stdout with --json."""
    from rich.console import Console
    from rich.table import Table

    if as_json:
        print(json.dumps(public(report), indent=2))
        return
    con = Console()
    if not con.is_terminal:  # CI logs: 80 columns would wrap every cell; a log line can be long
        con = Console(width=max(con.width, 140))
    for w in report["warnings"]:
        con.print(f"[bold red]WARNING[/]: {html.escape(w, quote=False)}", highlight=False)
    t = Table(title=f"edgekit validate: {report['folder']} on {report['device']['name']}")
    for c in COLUMNS:
        t.add_column(c, justify="left" if c in ("artifact", "runtime", "status") else "right")
    first = report["device"]["name"]
    for row, r in zip(table_rows(report), report["results"], strict=True):
        if r["device"] != first:
            continue  # other devices are in the per-device table below
        color = _COLORS.get(row[2], "white")
        t.add_row(*row[:2], f"[{color}]{row[2]}[/]", *row[3:])
    if len(report.get("devices") or []) > 1:
        t.title = f"edgekit validate: {report['folder']} on the first device, {report['device']['name']}"
        con.print(t)
        head, mrows = device_matrix(report)
        mt = Table(title="per device: status and p50 latency")
        for c in head:
            mt.add_column(c)
        for row in mrows:
            mt.add_row(*row)
        con.print(mt)
    else:
        con.print(t)
    for line in _reasons(report):
        con.print(f"  {line}", highlight=False, markup=False)
    for line in (m for d in report.get("devices") or [] for m in d.get("budget") or []):  # mcu boards' margins
        con.print(f"  {line}", highlight=False, markup=False)
    for np_ in report["not_produced"]:
        con.print(f"  {np_['artifact']}: {not_produced_text(np_)} ({np_['reason']})", highlight=False, markup=False)
    if report.get("baseline"):
        con.print(baseline_view.headline(report), highlight=False, markup=False)
    s = report["summary"]
    con.print(f"{s['pass']} pass, {s['fail']} fail, {s['error']} error, {s['tampered']} tampered, "
              f"{s['unavailable']} unavailable in {s['wall_s']:.1f} s; report: {report['report_dir']}",
              highlight=False, markup=False)


# ---------------------------------------------------------------------------------------------------------
# Markdown


def to_markdown(report: dict[str, Any]) -> str:
    s, st, env = report["summary"], report["settings"], report["device"].get("environment", {})
    lines = [
        "# edgekit validation report", "",
        f"- folder: `{report['folder']}`",
        f"- device: {report['device']['name']} ({env.get('cpu', '?')}, {env.get('usable_cores', '?')} usable cores, "
        f"governor {env.get('governor') or 'n/a'}, {env.get('os', '?')})",
        f"- settings: {st['threads']} threads, runs {st['runs']}, warm-up {st['warmup']}, "
        f"min time {st['min_time']} s, max time {st['max_time']} s",
        f"- golden samples: {report['golden']['samples']}"
        + (f", source accuracy {report['golden']['source_accuracy']:.4f}"
           if report["golden"].get("source_accuracy") is not None else ""),
        f"- result: {s['pass']} pass, {s['fail']} fail, {s['error']} error, {s['tampered']} tampered, "
        f"{s['unavailable']} unavailable (exit code {s['exit_code']}); wall {s['wall_s']:.1f} s, "
        f"of which {s['timed_s']:.2f} s in timed loops",
        "",
    ]
    for w in report["warnings"]:
        lines.append(f"> **WARNING:** {w}")
    if report["warnings"]:
        lines.append("")
    lines += ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in table_rows(report)]
    if len(report.get("devices") or []) > 1:
        head, mrows = device_matrix(report)
        lines += ["", "## Per device", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in mrows]
    for d in report.get("devices") or []:
        if d.get("kind") != "local" or len(report["devices"]) > 1:
            env = d.get("environment") or {}
            lines += ["", f"### Device {device_label(d)} ({d.get('kind')})", ""]
            lines += [f"- {k}: {v}" for k, v in env.items() if v not in (None, "")]
            if d.get("error"):
                lines.append(f"- error: {d['error']}")
            lines += [f"- skipped {x['artifact']}: {x['reason']}" for x in d.get("skipped") or []]
            lines += [f"- budget {x}" for x in d.get("budget") or []]
    reasons = _reasons(report)
    if reasons:
        lines += ["", "## Why not pass", ""] + [f"- {x}" for x in reasons]
    if report["not_produced"]:
        lines += ["", "## Not produced by convert", ""]
        lines += [f"- {x['artifact']}: {not_produced_text(x)}: {x['reason']}" for x in report["not_produced"]]
    if report.get("baseline"):
        lines += ["", baseline_view.to_markdown(report).rstrip("\n")]
    lines += ["", "## Latency detail (ms)", "",
              "| artifact | runtime | load | first | warm-up mean | mean | std | min | p90 | max | n "
              "| per-call overhead | peak RSS MB |", "|" + "---|" * 13]
    for r in report["results"]:
        lat = r.get("latency_ms")
        if not lat:
            continue
        lines.append(
            f"| {r['artifact']} | {r['runtime']} | {_num(r['load_ms'])} | {_num(r['first_ms'])} | "
            f"{_num((r.get('warmup') or {}).get('mean_ms'))} | {_num(lat['mean'])} | {_num(lat['std'])} | "
            f"{_num(lat['min'])} | {_num(lat['p90'])} | {_num(lat['max'])} | {lat['count']} | "
            f"{_num(r.get('overhead_ms'))} | {_num(r.get('peak_rss_mb'), '.0f')} |")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------------------
# HTML with inline SVG (no scripts, no network)


def _svg_latency(results: list[dict[str, Any]], samples: list[list[float]] | None) -> str:
    """One row per (artifact, runtime): a box from p50 to p90, whiskers min..p99, dots for samples; log x.
    ``samples``: per-run times of each result row (same order), not part of report.json."""
    per_row = samples if samples is not None and len(samples) == len(results) else [[] for _ in results]
    rows = [(r, s) for r, s in zip(results, per_row, strict=True) if r.get("latency_ms")]
    if not rows:
        return "<p>No latency measured.</p>"
    lo = min(r["latency_ms"]["min"] for r, _ in rows)
    hi = max(r["latency_ms"]["max"] for r, _ in rows)
    lo, hi = math.log10(max(lo, 1e-4)) - 0.05, math.log10(max(hi, 1e-4)) + 0.05
    left, width, rh = 220, 560, 28
    height = 40 + rh * len(rows)

    def x(v: float) -> float:
        return left + (math.log10(max(v, 1e-4)) - lo) / max(hi - lo, 1e-9) * width

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + width + 20}" height="{height}" '
             'font-family="sans-serif" font-size="12">']
    for k in range(math.floor(lo), math.ceil(hi) + 1):
        v = 10.0**k
        if lo <= k <= hi:
            parts.append(f'<line x1="{x(v):.1f}" x2="{x(v):.1f}" y1="10" y2="{height - 20}" stroke="#ddd"/>'
                         f'<text x="{x(v):.1f}" y="{height - 5}" text-anchor="middle">{v:g} ms</text>')
    for i, (r, row_samples) in enumerate(rows):
        lat, y = r["latency_ms"], 20 + i * rh
        c = _COLORS.get(r["status"], "#333")
        label = html.escape(f"{r['artifact']} · {r['runtime']}")
        parts.append(f'<text x="{left - 8}" y="{y + 4}" text-anchor="end">{label}</text>')
        step = max(1, len(row_samples) // 200)  # at most ~200 dots per row keeps the file small
        for j, v in enumerate(row_samples[::step]):
            jitter = ((j * 7) % 11 - 5) * 1.2
            parts.append(f'<circle cx="{x(v):.1f}" cy="{y + jitter:.1f}" r="1.5" fill="{c}" fill-opacity="0.35"/>')
        parts.append(f'<line x1="{x(lat["min"]):.1f}" x2="{x(lat["p99"]):.1f}" y1="{y}" y2="{y}" stroke="#333"/>')
        parts.append(f'<rect x="{x(lat["p50"]):.1f}" y="{y - 7}" width="{max(x(lat["p90"]) - x(lat["p50"]), 1):.1f}" '
                     f'height="14" fill="none" stroke="#333"/>')
        parts.append(f'<line x1="{x(lat["p50"]):.1f}" x2="{x(lat["p50"]):.1f}" y1="{y - 8}" y2="{y + 8}" '
                     f'stroke="{c}" stroke-width="3"><title>p50 {lat["p50"]:.4g} ms</title></line>')
    parts.append("</svg>")
    return "".join(parts)


def _svg_tradeoff(results: list[dict[str, Any]]) -> str:
    """Size (x, log) vs p50 latency (y, log); the label carries the accuracy delta or top-1 agreement."""
    pts = [r for r in results if r.get("latency_ms") and r.get("bytes")]
    if not pts:
        return "<p>Nothing to plot.</p>"
    w, h, pad = 640, 360, 60
    xs = [math.log10(r["bytes"]) for r in pts]
    ys = [math.log10(max(r["latency_ms"]["p50"], 1e-4)) for r in pts]
    x0, x1 = min(xs) - 0.1, max(xs) + 0.1
    y0, y1 = min(ys) - 0.1, max(ys) + 0.1

    def px(v: float) -> float:
        return pad + (v - x0) / (x1 - x0) * (w - 2 * pad)

    def py(v: float) -> float:
        return h - pad + 20 - (v - y0) / (y1 - y0) * (h - 2 * pad)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w + 160}" height="{h}" font-family="sans-serif" '
             'font-size="12">',
             f'<line x1="{pad}" y1="{h - pad + 20}" x2="{w - pad}" y2="{h - pad + 20}" stroke="#333"/>',
             f'<line x1="{pad}" y1="{pad - 20}" x2="{pad}" y2="{h - pad + 20}" stroke="#333"/>',
             f'<text x="{w / 2}" y="{h - 8}" text-anchor="middle">artifact size (log)</text>',
             f'<text x="14" y="{h / 2}" transform="rotate(-90 14 {h / 2})" text-anchor="middle">p50 latency ms (log)'
             '</text>']
    for lx, ly in ((x0, None), (x1, None), (None, y0), (None, y1)):
        if lx is not None:
            label = human_bytes(int(10**lx))
            parts.append(f'<text x="{px(lx):.1f}" y="{h - pad + 34}" text-anchor="middle">{label}</text>')
        else:
            parts.append(f'<text x="{pad - 4}" y="{py(ly):.1f}" text-anchor="end">{10**ly:.3g}</text>')
    for r, vx, vy in zip(pts, xs, ys, strict=True):
        acc = (r.get("accuracy") or {}).get("delta")
        top1 = _worst(r, "top1", "min")
        tag = f"acc Δ {acc:+.3f}" if acc is not None else (f"top-1 {top1:.2f}" if top1 is not None else r["status"])
        c = _COLORS.get(r["status"], "#333")
        label = html.escape(f"{r['artifact']} ({r['runtime']}) {tag}")
        parts.append(f'<circle cx="{px(vx):.1f}" cy="{py(vy):.1f}" r="6" fill="{c}"><title>{label}</title></circle>'
                     f'<text x="{px(vx) + 9:.1f}" y="{py(vy) + 4:.1f}">{label}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _baseline_html(report: dict[str, Any]) -> str:
    """The comparison with --baseline (regressions first), or nothing without one."""
    if not report.get("baseline"):
        return ""
    esc = html.escape
    head = "".join(f"<th>{esc(c)}</th>" for c in baseline_view.COLUMNS)
    body = "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>"
                   for row in baseline_view.comparison_rows(report))
    return (f"<h2>Against the baseline</h2><p>{esc(baseline_view.headline(report))}</p>"
            f"<table><tr>{head}</tr>{body}</table>")


def to_html(report: dict[str, Any], samples: list[list[float]] | None = None) -> str:
    """One file, no scripts and no network: tables plus two inline SVG plots."""
    esc = html.escape
    s = report["summary"]
    head = "".join(f"<th>{esc(c)}</th>" for c in COLUMNS)
    body = "".join(
        "<tr>" + "".join(
            f'<td style="color:{_COLORS.get(c, "inherit")}">{esc(c)}</td>' if j == 2 else f"<td>{esc(c)}</td>"
            for j, c in enumerate(row)) + "</tr>"
        for row in table_rows(report))
    warns = "".join(f'<p class="warn">WARNING: {esc(w)}</p>' for w in report["warnings"])
    reasons = "".join(f"<li>{esc(x)}</li>" for x in _reasons(report))
    env = report["device"].get("environment", {})
    env_rows = "".join(f"<tr><td>{esc(str(k))}</td><td>{esc(str(v))}</td></tr>" for k, v in env.items())
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>edgekit validation report</title>
<style>
body{{font-family:sans-serif;margin:2em;max-width:1100px}} table{{border-collapse:collapse;margin:1em 0}}
td,th{{border:1px solid #ccc;padding:3px 8px;text-align:right}} td:first-child,th:first-child{{text-align:left}}
.warn{{background:#ffebe9;border:2px solid #cf222e;padding:8px;font-weight:bold}}
</style></head><body>
<h1>edgekit validation report</h1>
<p>{esc(report['folder'])} on <b>{esc(report['device']['name'])}</b>, {report['settings']['threads']} threads,
{report['golden']['samples']} golden samples. <b>{s['pass']} pass, {s['fail']} fail, {s['error']} error,
{s['tampered']} tampered, {s['unavailable']} unavailable</b> (exit code {s['exit_code']}).</p>
{warns}
<table><tr>{head}</tr>{body}</table>
{f"<h2>Why not pass</h2><ul>{reasons}</ul>" if reasons else ""}
{_baseline_html(report)}
<h2>Latency distribution</h2>
<p>Box: p50 to p90; line: min to p99; dots: individual steady-state runs (log scale).</p>
{_svg_latency(report["results"], samples)}
<h2>Size vs latency vs accuracy</h2>
{_svg_tradeoff(report["results"])}
<h2>Environment</h2><table>{env_rows}</table>
<p>Generated by edgekit {esc(report['edgekit_version'])} at {esc(report['created'])}.</p>
</body></html>
"""
