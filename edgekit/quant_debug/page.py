"""quant_debug.html (one file, no scripts, no network: tables and an inline SVG plot drawn by matplotlib) and
the console table's rows."""

from __future__ import annotations

import html as h
import io

from edgekit.quant_debug.records import LayerEffect, QuantDebugReport
from edgekit.quant_debug.worker import STAT_SAMPLES

TOP = 3  # suspects highlighted: the layers whose float fallback recovers the most


def suspects(report: QuantDebugReport) -> list[str]:
    return [e.layer for e in report.effects if e.measured and (e.recovery_points or 0) > 0][:TOP]


def _fmt(v: float | None, spec: str = ".2f") -> str:
    return "-" if v is None else format(v, spec)


def rows(report: QuantDebugReport) -> list[list[str]]:
    """One row per layer, ranked by effect: layer, recovery, score alone / with output, worst SQNR,
    RMSE/scale, outlier ratio, channel spread, median channel steps."""
    worst = {}
    for s in report.stats:
        if s.layer not in worst or s.sqnr_db < worst[s.layer].sqnr_db:
            worst[s.layer] = s
    pct = report.metric != "sqnr_db"

    def score(v: float | None) -> str:
        return "-" if v is None else (f"{v * 100:.1f}%" if pct else f"{v:.1f} dB")

    out = []
    for e in report.effects:
        s = worst.get(e.layer)
        out.append([e.layer, _fmt(e.recovery_points, "+.1f") if e.measured else f"({e.why_not})", score(e.alone),
                    score(e.with_output), _fmt(s and s.sqnr_db, ".1f"), _fmt(s and s.rmse_over_scale, ".3f"),
                    _fmt(s and s.outlier_ratio, ".2f"), _fmt(s and s.channel_spread, ".1f"),
                    _fmt(s and s.median_channel_steps, ".1f")])
    return out


HEADERS = ["layer", "recovery (pts)", "float alone", "float with output", "SQNR dB", "RMSE/scale", "max/p99.9",
           "channel spread", "steps/channel"]


def svg_plot(report: QuantDebugReport) -> str:
    """Per-layer SQNR and recovery along the depth of the network; suspects in red."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    order = list(dict.fromkeys([s.layer for s in report.stats] + [e.layer for e in report.effects]))
    sqnr = {s.layer: min(x.sqnr_db for x in report.stats if x.layer == s.layer) for s in report.stats}
    rec = {e.layer: e.recovery_points for e in report.effects if e.recovery_points is not None}
    bad = set(suspects(report))
    xs = range(len(order))
    fig, (top, bottom) = plt.subplots(2, 1, sharex=True, figsize=(max(6, len(order) * 0.5), 5))
    top.plot(list(xs), [sqnr.get(n, float("nan")) for n in order], marker="o", color="#555")
    top.set_ylabel("SQNR dB (per layer)")
    bottom.bar(list(xs), [rec.get(n, 0.0) for n in order], color=["#c0392b" if n in bad else "#7f8c8d" for n in order])
    bottom.set_ylabel("recovery, points" if report.metric != "sqnr_db" else "recovery, dB")
    bottom.set_xticks(list(xs), order, rotation=60, ha="right", fontsize=8)
    for i, n in enumerate(order):
        if n in bad:
            top.plot([i], [sqnr.get(n, float("nan"))], marker="o", color="#c0392b", markersize=9)
    fig.tight_layout()
    buf = io.StringIO()
    fig.savefig(buf, format="svg")
    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg"):]


def html(report: QuantDebugReport) -> str:
    head = "".join(f"<th>{h.escape(c)}</th>" for c in HEADERS)
    bad = set(suspects(report))
    body = "".join("<tr{}>{}</tr>".format(' class="suspect"' if r[0] in bad else "",
                                          "".join(f"<td>{h.escape(c)}</td>" for c in r)) for r in rows(report))
    plain = report.plain
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>quant-debug</title><style>
body{{font-family:sans-serif;margin:2em}} table{{border-collapse:collapse}} td,th{{border:1px solid #ccc;
padding:3px 8px;text-align:right}} td:first-child{{text-align:left}} tr.suspect{{background:#fdecea}}</style>
</head><body><h1>quant-debug: {h.escape(report.folder)}</h1>
<p>{h.escape(_summary(report, plain.value))}</p>
<p><b>Next:</b> {h.escape(report.next_step)}</p>
{svg_plot(report)}
<h2>Layers ranked by effect on the golden set</h2>
<p>recovery: the {h.escape(report.metric)} of int8 with the layer kept in float (alone, or with its output tensor
kept float too: the layer and the layers that read it), minus plain int8's. Statistics are per activation tensor
on the calibration data (the first {min(report.calibration_samples, STAT_SAMPLES)} of {report.calibration_samples}
samples): a huge scale makes RMSE/scale look small.</p>
<table><tr>{head}</tr>{body}</table></body></html>
"""


def _summary(report: QuantDebugReport, value: float) -> str:
    if report.metric == "sqnr_db":
        return f"plain int8 output SQNR {value:.1f} dB ({report.plain.bytes} bytes)"
    return (f"float {report.metric} {report.reference * 100:.1f}%, plain int8 {value * 100:.1f}% (drop "
            f"{report.plain.drop_points:.1f} points, {report.plain.bytes} bytes) on {report.golden_samples} golden "
            f"samples; measured in {report.seconds:.1f} s (time bound {report.time_bound_s:g} s)")


def summary(report: QuantDebugReport) -> str:
    return _summary(report, report.plain.value)


__all__ = ["HEADERS", "LayerEffect", "html", "rows", "summary", "suspects", "svg_plot"]
