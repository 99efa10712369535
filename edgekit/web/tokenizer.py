"""The JavaScript tokenizer (``edgekit/web/static/tokenizer.js``, shipped by the web bundle) run here: in Node
(``edgekit/js/tokenize.js``) and in headless Chromium (the same file in a page), as tokenizer parity engines
(``edgekit.text.parity``: one validate row each, docs/text.md).

``run_node`` / ``run_chromium`` take a ``tokenizer.json`` path and raw inputs and return one output row per
input, as in ``tokenizer_test_vectors.json``. Inputs and rows cross the process boundary as JSON (strings
are Unicode text: a lone surrogate is refused by both sides).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from edgekit.errors import EdgekitError, InputError
from edgekit.text.parity import TokenizerEngine, register
from edgekit.web.browser import STATIC

TOKENIZER_JS = STATIC / "tokenizer.js"
NODE_SCRIPT = Path(__file__).resolve().parents[1] / "js" / "tokenize.js"
TIMEOUT_S = 120
_PAGE = """<!doctype html><meta charset="utf-8"><title>edgekit tokenizer</title>
<script src="tokenizer.js"></script>
<p id="status">edgekit tokenizer page</p>
"""


def node_unavailable() -> str | None:
    from edgekit.runtimes.tfjs_node import node_unavailable_reason

    if not NODE_SCRIPT.is_file() or not TOKENIZER_JS.is_file():
        return f"{NODE_SCRIPT.name} or {TOKENIZER_JS.name} is missing: reinstall edgekit"
    return node_unavailable_reason()


def chromium_unavailable() -> str | None:
    from edgekit.web import browser

    return browser.unavailable_reason()


def run_node(spec_path: Path, inputs: list[Any]) -> list[Any]:
    """The JS tokenizer in Node on ``inputs``: one row per input."""
    from edgekit.runtimes.tfjs_node import node_binary

    reason = node_unavailable()
    if reason:
        raise EdgekitError(reason)
    with tempfile.TemporaryDirectory(prefix="edgekit-tok-") as tmp:
        job, out = Path(tmp) / "job.json", Path(tmp) / "rows.json"
        job.write_text(json.dumps({"spec": str(Path(spec_path).resolve()), "inputs": list(inputs),
                                   "out": str(out)}), encoding="utf-8")
        try:
            proc = subprocess.run([str(node_binary()), str(NODE_SCRIPT), str(job)], capture_output=True, text=True,
                                  timeout=TIMEOUT_S, check=False)
        except subprocess.TimeoutExpired as e:
            raise EdgekitError(f"the Node tokenizer did not finish in {TIMEOUT_S} s") from e
        if proc.returncode != 0:
            raise _js_error("Node", proc.stderr, proc.returncode == 2)
        return list(json.loads(out.read_text(encoding="utf-8"))["rows"])


def _js_error(where: str, stderr: str, bad_input: bool) -> EdgekitError:
    lines = [ln for ln in stderr.strip().splitlines() if ln.strip()]
    try:
        message = str(json.loads(lines[-1])["error"])
    except (IndexError, ValueError, KeyError, TypeError):
        message = lines[-1] if lines else "no message"
    text = f"the JavaScript tokenizer in {where}: {message}"
    return InputError(text) if bad_input else EdgekitError(text)


def run_chromium(spec_path: Path, inputs: list[Any], session: Any = None) -> list[Any]:
    """The JS tokenizer in a headless Chromium page on ``inputs`` (``session``: an open BrowserSession to reuse)."""
    return run_chromium_many([(Path(spec_path), list(inputs))], session)[0]


def run_chromium_many(jobs: list[tuple[Path, list[Any]]], session: Any = None) -> list[list[Any]]:
    """Several (tokenizer.json, inputs) jobs in one page: one list of rows per job."""
    from edgekit.web import browser

    reason = chromium_unavailable()
    if reason:
        raise EdgekitError(reason)
    with tempfile.TemporaryDirectory(prefix="edgekit-tok-") as tmp:
        folder = Path(tmp)
        shutil.copyfile(TOKENIZER_JS, folder / "tokenizer.js")
        for k, (spec_path, _) in enumerate(jobs):
            shutil.copyfile(spec_path, folder / f"tokenizer{k}.json")
        (folder / "index.html").write_text(_PAGE, encoding="utf-8")
        if session is not None:
            return _in_page(session, folder, [inputs for _, inputs in jobs])
        with browser.BrowserSession() as own:
            return _in_page(own, folder, [inputs for _, inputs in jobs])


_TOKENIZE_IN_PAGE = """async (jobs) => {
    const out = [];
    for (let k = 0; k < jobs.length; k++) {
      const spec = await (await fetch(`tokenizer${k}.json`)).json();
      try {
        const tok = window.EdgekitTokenizer.fromSpec(spec);
        out.push(jobs[k].map((x) => tok.encode(x)));
      } catch (e) {
        return {error: String(e && e.message || e), bad: e instanceof window.EdgekitTokenizer.TokenizerError};
      }
    }
    return {rows: out};
}"""


def _in_page(session: Any, folder: Path, jobs: list[list[Any]]) -> list[list[Any]]:
    with session.mounted(folder) as url:
        page = session.new_page()
        try:
            page.goto(session.server.url(url + "index.html"))
            result = page.evaluate(_TOKENIZE_IN_PAGE, jobs)
        finally:
            page.close()
    if "error" in result:
        text = f"the JavaScript tokenizer in Chromium: {result['error']}"
        raise InputError(text) if result.get("bad") else EdgekitError(text)
    return [list(rows) for rows in result["rows"]]


register(TokenizerEngine("node", run_node, node_unavailable))
register(TokenizerEngine("chromium", run_chromium, chromium_unavailable))
