"""How a baseline comparison reads: a Markdown table (report.md, pull-request comments, the GitHub step
summary) and a console table, regressions first. Reads only the dicts edgekit.baseline writes."""

from __future__ import annotations

import json
from typing import Any

ORDER = {"regressed": 0, "improved": 1, "ok": 2, "new": 3}
COLUMNS = ("artifact", "runtime", "device", "verdict", "size Δ", "accuracy Δ (pt)", "p50 ms old → new",
           "p50 ratio (CI)", "why")


def _size(e: dict[str, Any]) -> str:
    s = e.get("size")
    return "-" if not s or s.get("growth") is None else f"{s['growth']:+.1%} ({s['delta']:+d} B)"


def _acc(e: dict[str, Any]) -> str:
    a = e.get("accuracy")
    return "-" if not a else f"{100 * a['delta']:+.2f}"


def _p50(e: dict[str, Any]) -> str:
    lat = e.get("latency") or {}
    if lat.get("old_p50") is None or lat.get("new_p50") is None:
        return "-"
    return f"{lat['old_p50']:.4g} → {lat['new_p50']:.4g}"


def _ratio(e: dict[str, Any]) -> str:
    lat = e.get("latency") or {}
    if not lat.get("compared"):
        return "not compared"
    low, high = lat["ci"]
    return f"x{lat['ratio']:.3f} ({lat['confidence']:.0%}: {low:.3f}..{high:.3f})"


def _why(e: dict[str, Any]) -> str:
    return "; ".join(e.get("reasons") or []) or ((e.get("latency") or {}).get("note") or "")


def comparison_rows(report: dict[str, Any]) -> list[list[str]]:
    """One line per result row that has a ``baseline`` entry, regressions first (then improved, ok, new)."""
    rows = [r for r in report["results"] if r.get("baseline")]
    rows.sort(key=lambda r: ORDER.get(r["baseline"]["verdict"], 9))
    return [[r["artifact"], r["runtime"], r["device"], r["baseline"]["verdict"], _size(r["baseline"]),
             _acc(r["baseline"]), _p50(r["baseline"]), _ratio(r["baseline"]), _why(r["baseline"])] for r in rows]


def headline(report: dict[str, Any]) -> str:
    """One sentence: what was compared with what, the counts, and whether latency was compared."""
    b = report.get("baseline") or {}
    if b.get("error"):
        return f"baseline {b.get('path')}: not compared ({b['error']})"
    s = b["summary"]
    missing = f", {s['missing']} baseline rows missing here" if s["missing"] else ""
    return (f"against baseline {b.get('path') or '?'} ({b.get('created') or '?'}): {s['regressed']} regressed, "
            f"{s['improved']} improved, {s['ok']} ok, {s['new']} new{missing}. {b['latency']}")


def _cell(c: str) -> str:
    return c.replace("|", "\\|").replace("\n", " ")


def to_markdown(report: dict[str, Any], title: str = "## Against the baseline") -> str:
    """The comparison section: headline, then the table (regressions first); empty without a baseline."""
    if not report.get("baseline"):
        return ""
    lines = [title, "", headline(report), ""]
    rows = comparison_rows(report)
    if rows:
        lines += ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
        lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    missing = (report["baseline"].get("missing") or [])
    if missing:
        lines += ["", "In the baseline, not in this run: " + ", ".join(f"`{m}`" for m in missing)]
    return "\n".join(lines) + "\n"


def print_console(report: dict[str, Any], as_json: bool = False, markdown: bool = False) -> None:
    """`edgekit compare`'s output: a console table, the Markdown section, or the comparison as JSON."""
    if as_json:
        out = {"baseline": report.get("baseline"),
               "results": [{k: r.get(k) for k in ("artifact", "runtime", "device", "status", "baseline")}
                           for r in report["results"]]}
        print(json.dumps(out, indent=2))
        return
    if markdown:
        print(to_markdown(report, "## edgekit compare"), end="")
        return
    from rich.console import Console
    from rich.table import Table

    con = Console()
    if not con.is_terminal:
        con = Console(width=max(con.width, 160))
    t = Table(title="edgekit compare")
    for c in COLUMNS:
        t.add_column(c)
    colors = {"regressed": "red", "improved": "green", "ok": "white", "new": "cyan"}
    for row in comparison_rows(report):
        t.add_row(*row[:3], f"[{colors.get(row[3], 'white')}]{row[3]}[/]", *row[4:])
    con.print(t)
    con.print(headline(report), highlight=False, markup=False)
