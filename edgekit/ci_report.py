"""What validate hands a CI system: a JUnit XML file (``--junit``) and the GitHub step summary.

JUnit: one ``<testsuite>`` per device, one ``<testcase>`` per artifact x runtime (classname the artifact,
name ``runtime/device``), ``<failure>`` for fail, tampered and regressed, ``<error>`` for error,
``<skipped>`` for unavailable (a ``<failure>`` when the run counted it as one: CI=true), the row's worker
time as ``time``. The element and attribute set is the one Jenkins' and GitLab's JUnit readers take
(tests/data/junit.xsd). Standard library only.
"""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from datetime import datetime
from pathlib import Path
from typing import Any

from edgekit import outdir
from edgekit.baseline_view import to_markdown as comparison_markdown
from edgekit.errors import InputError
from edgekit.report import COLUMNS, table_rows

# XML 1.0 refuses most control characters; a crashing worker's stderr can hold any byte.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
FAILING = ("fail", "tampered", "regressed")
SEVERITY = {"regressed": 0, "fail": 1, "error": 2, "tampered": 3, "unavailable": 4, "pass": 5}


def _text(s: Any) -> str:
    return _NOT_XML.sub("?", "" if s is None else str(s))


def check_junit_path(path: Path, root: Path, keep: list[Path]) -> Path:
    """Refuse, before anything runs, a --junit path that cannot take the file (a folder, a symlink out of the
    validated folder, inside an artifact)."""
    path = outdir.contained(root, Path(path), "--junit")
    if path.is_dir() and not path.is_symlink():
        raise InputError(f"--junit {path} is a folder; give a file path such as {path / 'junit.xml'}")
    for p in keep:
        if outdir.inside(path, p):
            raise InputError(f"--junit {path} lies inside the artifact {p}; choose another --junit")
    outdir.check_writable_folder(path.parent, [path.name], "--junit")
    return path


def _case(suite: ET.Element, r: dict[str, Any], ci: bool) -> tuple[str, float]:
    case = ET.SubElement(suite, "testcase", classname=_text(r["artifact"]), name=_text(f"{r['runtime']}/{r['device']}"),
                         time=f"{r.get('wall_s') or 0.0:.3f}")
    status, reason = r["status"], _text(r.get("reason") or "")
    kind = "failure" if status in FAILING or (status == "unavailable" and ci) else (
        "error" if status == "error" else "skipped" if status == "unavailable" else None)
    if kind:
        el = ET.SubElement(case, kind, message=f"{status}: {reason}"[:1000])
        if kind != "skipped":
            el.set("type", status)
            el.text = "\n".join([f"{status}: {reason}", *map(_text, r.get("stderr_tail") or [])])
    lat = r.get("latency_ms") or {}
    if lat.get("p50") is not None:
        ET.SubElement(case, "system-out").text = (
            f"p50 {lat['p50']:.4g} ms, p99 {lat['p99']:.4g} ms over {lat['count']} runs; "
            f"{r.get('bytes')} bytes; {_text((r.get('baseline') or {}).get('verdict') or 'no baseline')}")
    return kind or "passed", float(r.get("wall_s") or 0.0)


def _timestamp(created: Any) -> str | None:
    """JUnit's timestamp: ISO 8601 local time without a zone (report.json's ``created`` is UTC)."""
    try:
        return datetime.fromisoformat(str(created)).strftime("%Y-%m-%dT%H:%M:%S")
    except ValueError:
        return None


def to_junit(report: dict[str, Any]) -> str:
    """The JUnit XML document of a report (UTF-8 text with its declaration)."""
    ci = bool(report["settings"].get("ci"))
    root = ET.Element("testsuites", name="edgekit validate")
    totals = dict.fromkeys(("tests", "failures", "errors", "skipped"), 0)
    total_time = 0.0
    devices = [d["name"] for d in report.get("devices") or [report["device"]]]
    for device in devices:
        rows = [r for r in report["results"] if r["device"] == device]
        suite = ET.SubElement(root, "testsuite", name=_text(f"edgekit validate {report['folder']} on {device}"))
        if stamp := _timestamp(report.get("created")):
            suite.set("timestamp", stamp)
        props = ET.SubElement(suite, "properties")
        for k, v in (("edgekit_version", report.get("edgekit_version")), ("device", device),
                     ("folder", report.get("folder"))):
            ET.SubElement(props, "property", name=k, value=_text(v))
        counts = dict.fromkeys(("failure", "error", "skipped", "passed"), 0)
        seconds = 0.0
        for r in rows:
            kind, t = _case(suite, r, ci)
            counts[kind] += 1
            seconds += t
        suite.set("tests", str(len(rows)))
        for attr, kind in (("failures", "failure"), ("errors", "error"), ("skipped", "skipped")):
            suite.set(attr, str(counts[kind]))
            totals[attr] += counts[kind]
        suite.set("time", f"{seconds:.3f}")
        totals["tests"] += len(rows)
        total_time += seconds
    for k, v in totals.items():
        root.set(k, str(v))
    root.set("time", f"{total_time:.3f}")
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def write_junit(report: dict[str, Any], path: Path) -> Path:
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return outdir.write_text_inside(path.parent, path.name, to_junit(report))
    except OSError as e:
        raise InputError(f"cannot write --junit {path} ({e}); give a writable path") from e


def summary_markdown(report: dict[str, Any]) -> str:
    """The step summary: the result, the comparison with the baseline (regressions first), then every row
    with the worst statuses first."""
    s = report["summary"]
    lines = [f"## edgekit validate: `{report['folder']}`", "",
             f"**{s['pass']} pass, {s.get('regressed', 0)} regressed, {s['fail']} fail, {s['error']} error, "
             f"{s['tampered']} tampered, {s['unavailable']} unavailable** (exit code {s['exit_code']}) on "
             f"{', '.join(d['name'] for d in report.get('devices') or [report['device']])}", ""]
    lines += [f"> **WARNING:** {w}" for w in report["warnings"]]
    section = comparison_markdown(report, "### Against the baseline")
    if section:
        lines += [section]
    ranked = sorted(zip(table_rows(report), report["results"], strict=True),
                    key=lambda pair: SEVERITY.get(pair[1]["status"], 9))
    lines += ["### Results", "", "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row, _ in ranked]
    reasons = [f"- {r['artifact']} ({r['runtime']}): {r['status']}: {r['reason']}"
               for _, r in ranked if r.get("reason") and r["status"] != "unavailable"]
    return "\n".join(lines + ([""] + reasons if reasons else []) + [""]) + "\n"


def append_step_summary(report: dict[str, Any], env: dict[str, str] | None = None) -> Path | None:
    """Append the summary to the file GITHUB_STEP_SUMMARY names (GitHub Actions), if it is set."""
    target = (env if env is not None else os.environ).get("GITHUB_STEP_SUMMARY")
    if not target:
        return None
    path = Path(target)
    try:
        with path.open("a", encoding="utf-8") as f:  # the runner owns this file: append, as its docs say
            f.write(summary_markdown(report))
    except OSError as e:
        raise InputError(f"cannot append to GITHUB_STEP_SUMMARY {path} ({e})") from e
    return path
