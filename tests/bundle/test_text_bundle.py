"""Bundles of a split text model (the text-classifier recipe, converted): the web page tokenizes and classifies
in Chromium; the android/ios bundles carry tokenizer.json, test vectors equal to the Python tokenizer's ids, and
Kotlin/Swift tokenizers with their unit tests."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from edgekit import manifest
from edgekit.bundle import BundleOptions, bundle
from edgekit.cli import app
from edgekit.text.spec import read_spec, read_test_vectors
from edgekit.text.tokenize import tokenize
from edgekit.web import browser
from edgekit.web.browser import STATIC
from tests.helpers import assert_bad_input, open_bundle_page, require


@pytest.fixture(scope="module")
def web_text(text_converted, tmp_path_factory):
    return bundle(text_converted, tmp_path_factory.mktemp("textweb") / "web", BundleOptions(target="web"))


def test_every_artifact_of_the_text_recipe_converts(text_converted) -> None:
    # int8 is converted in the crash-containment worker, which reloads model.keras: it lowered the LSTMs of the
    # whole string model and fed it token ids ("TextVectorization ... inputs.shape=(8, 12)"): the recipe's
    # default `edgekit convert` exited 1.
    arts = {a.id: (a.status, a.reason) for a in manifest.load(text_converted).artifacts}
    assert arts == {i: ("ok", None) for i in ("tflite-int8", "tfjs")}


def test_web_text_bundle_files(web_text, text_converted) -> None:
    out = web_text.out
    assert (out / "tokenizer.js").read_bytes() == (STATIC / "tokenizer.js").read_bytes()
    assert (out / "tokenizer.json").read_bytes() == (text_converted / "tokenizer.json").read_bytes()
    assert (out / "model" / "model.json").is_file() and (out / "vendor" / "tf-core.min.js").is_file()
    cfg = json.loads((out / "app.json").read_text())
    assert cfg["tokenizer"] == "tokenizer.json" and cfg["input"]["dtype"] == "int32"
    sample = cfg["sample"]
    assert sample == web_text.facts["sample"] and isinstance(sample["text"], str)
    assert sample["expected_label"] == cfg["labels"][int(np.argmax(sample["reference_scores"]))]
    assert "http://" not in (out / "index.html").read_text()


def _other_sample(folder: Path, labels: list[str], not_label: str) -> tuple[str, str]:
    """The golden string of another label that the source model decided most clearly."""
    m = manifest.load(folder)
    ref = np.load(folder / m.golden["outputs"])[m.outputs[0].name]
    with np.load(folder / m.text["golden_strings"]) as z:
        texts = z[z.files[0]].reshape(len(ref), -1)[:, 0]
    order = np.argsort(-(np.sort(ref, 1)[:, -1] - np.sort(ref, 1)[:, -2]))
    i = next(int(i) for i in order if labels[int(np.argmax(ref[i]))] != not_label)
    return str(texts[i]), labels[int(np.argmax(ref[i]))]


def test_web_text_page_classifies_the_sample_and_typed_text(web_text, text_converted) -> None:
    reason = browser.unavailable_reason("tfjs", "tfjs-wasm")
    require(reason is None, reason or "")
    cfg = json.loads((web_text.out / "app.json").read_text())
    expected = cfg["sample"]["expected_label"]
    typed, typed_label = _other_sample(text_converted, cfg["labels"], expected)
    spec = read_spec(text_converted / "tokenizer.json")
    with browser.BrowserSession(isolated=False) as s, s.mounted(web_text.out) as url:
        page, errors = open_bundle_page(s, url)
        assert page.get_attribute("#prediction", "data-label") == expected
        assert page.text_content("#prediction").startswith(expected)
        ids = tokenize(spec, [cfg["sample"]["text"]])[0].tolist()
        assert page.text_content("#ids") == f"token ids: [{', '.join(map(str, ids))}]"
        page.fill("#text", typed)
        page.click("#classify")
        page.wait_for_function("(want) => document.getElementById('prediction').dataset.label === want",
                               arg=typed_label, timeout=30_000)
        rows = page.eval_on_selector_all("#scores tr", "trs => trs.map(t => [...t.cells].map(c => c.textContent))")
        assert abs(sum(float(r[1]) for r in rows) - 1) < 1e-3 and rows[0][0] == typed_label
        assert errors == [] and s.blocked == []


def test_web_text_bundle_refuses_litert(text_converted, tmp_path) -> None:
    res = CliRunner().invoke(app, ["bundle", str(text_converted), "--target", "web", "--runtime", "litert",
                                   "--out", str(tmp_path / "w")])
    assert_bad_input(res, "TF.js", "--runtime litert")
    assert not (tmp_path / "w").exists()


def _syntax_errors(paths: list[Path]) -> dict[str, list[tuple[int, str]]]:
    """Kotlin/Swift files that do not parse (tree-sitter grammars: syntax only, no types; no compiler here)."""
    import importlib.util

    mods = ("tree_sitter", "tree_sitter_kotlin", "tree_sitter_swift")
    missing = [m for m in mods if importlib.util.find_spec(m) is None]
    require(not missing, f"{', '.join(missing)} not installed (the dev extra)")
    import tree_sitter
    import tree_sitter_kotlin
    import tree_sitter_swift

    grammars = {".kt": tree_sitter_kotlin.language(), ".swift": tree_sitter_swift.language()}
    bad: dict[str, list[tuple[int, str]]] = {}
    for path in paths:
        stack = [tree_sitter.Parser(tree_sitter.Language(grammars[path.suffix])).parse(path.read_bytes()).root_node]
        while stack:
            node = stack.pop()
            if node.type == "ERROR" or node.is_missing:
                bad.setdefault(path.name, []).append((node.start_point[0] + 1, node.text.decode()[:40]))
            stack.extend(node.children)
    return bad


def test_syntax_check_finds_broken_code(tmp_path) -> None:
    (tmp_path / "Broken.kt").write_text("class A { fun f( { }\n")
    (tmp_path / "Broken.swift").write_text("final class A { func f( -> }\n")
    assert set(_syntax_errors([tmp_path / "Broken.kt", tmp_path / "Broken.swift"])) == {"Broken.kt", "Broken.swift"}


@pytest.mark.parametrize("target,lang,sources", [
    ("android", "Kotlin", ("kotlin/EdgekitTokenizer.kt", "kotlin/test/EdgekitTokenizerTest.kt")),
    ("ios", "Swift", ("swift/EdgekitTokenizer.swift", "swift/Tests/EdgekitTokenizerTests.swift"))])
def test_mobile_text_bundle_ships_tokenizer_and_vectors(text_converted, tmp_path, target, lang, sources) -> None:
    res = bundle(text_converted, tmp_path / target, BundleOptions(target=target))
    out = res.out
    assert res.facts["text"]["sources"] == list(sources) and all((out / f).is_file() for f in sources)
    spec = read_spec(out / "tokenizer.json")
    vectors = read_test_vectors(out / "tokenizer_test_vectors.json")
    golden = manifest.load(text_converted).golden["samples"]
    assert len(vectors.cases) >= golden > 0
    # Every expected row is what the Python tokenizer makes of the input (and the Keras layer made at convert).
    got = [tokenize(spec, [c.input])[0].tolist() for c in vectors.cases]
    assert got == [c.expected for c in vectors.cases]
    readme = (out / "README.md").read_text()
    assert "Not compiled here" in readme and "tokenizer_test_vectors.json" in readme
    code = "\n".join((out / p).read_text() for p in res.facts["snippets"])
    assert _syntax_errors(sorted(out.rglob("*.kt")) + sorted(out.rglob("*.swift"))) == {}
    ints = ("putInt(x.toInt())", "putLong(x.toLong())") if target == "android" else ("Int32($0)", "Int64($0)")
    assert any(s in code for s in ints)  # ids go in as integers, not as float bits
