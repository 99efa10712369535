"""The text parts of the android/ios bundles: tokenizer.json, its test vectors, and a Kotlin / Swift tokenizer
that implements docs/text.md with a unit test replaying the test vectors.

Neither language can be compiled here (no Maven repository, no Swift toolchain): the sources are written from
the spec and the README says they are unchecked by a compiler; the test vectors are what proves them on a
developer's machine (``./gradlew test`` / ``swift test`` / Xcode).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edgekit.bundle.common import Source
from edgekit.bundle.text import TEST_VECTORS, TOKENIZER, copy_tokenizer, text_record

SOURCES = Path(__file__).resolve().parent / "text_sources"
FILES = {
    "android": {"kotlin/EdgekitTokenizer.kt": "EdgekitTokenizer.kt",
                "kotlin/test/EdgekitTokenizerTest.kt": "EdgekitTokenizerTest.kt"},
    "ios": {"swift/EdgekitTokenizer.swift": "EdgekitTokenizer.swift",
            "swift/Tests/EdgekitTokenizerTests.swift": "EdgekitTokenizerTests.swift"},
}


def add_text_parts(src: Source, out: Path, target: str) -> tuple[list[str], dict[str, Any]]:
    """Copy the tokenizer files and the language's tokenizer + unit test; returns (README lines, facts)."""
    if text_record(src) is None:
        return [], {}
    copy_tokenizer(src, out)
    for rel, name in FILES[target].items():
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / rel).write_text((SOURCES / name).read_text(encoding="utf-8"), encoding="utf-8")
    lang = "Kotlin" if target == "android" else "Swift"
    test_cmd = ("a JVM unit test (JUnit 4; add `testImplementation(\"org.json:json:20240303\")`: Android's own "
                "org.json is a stub in local unit tests) with `tokenizer.json` and the test vectors as test "
                "resources" if target == "android" else
                "an XCTest case with `tokenizer.json` and the test vectors added to the test bundle's resources")
    lines = [
        "",
        "## Text: the tokenizer runs in the app",
        "",
        f"This model was split by `edgekit convert` at its tokenizer layer: the `.tflite` files take token ids, and "
        f"the app turns text into ids with `{TOKENIZER}` (vocabulary and rules, docs/text.md) and the {lang} "
        f"tokenizer `{next(iter(FILES[target]))}` (`EdgekitTokenizer(json).encode(text)` for int ids, "
        "`encodeVector(text)` for multi_hot/count/one_hot outputs; then pass the ids, as numbers, to the model "
        "class's `run`).",
        "",
        f"- `{TEST_VECTORS}`: the golden strings and the ids the Keras layer itself produced for them;",
        f"  `{list(FILES[target])[1]}` replays every case: {test_cmd}.",
        "- The rules are Keras', not the platform's: lowercasing maps A-Z only (`lowercase()` / `lowercased()` "
        "would also lower `É`), whitespace is the six ASCII characters, characters are code points, and tokens "
        "are compared as exact code points" + (" (Swift's `==` on String treats NFC and NFD as equal: the "
                                               "tokenizer compares UTF-8 bytes instead)" if target == "ios" else "")
        + ".",
        f"- **Not compiled here**: no {lang} toolchain was available where this bundle was generated, so these "
        "sources are checked by nothing but the test vectors on your machine. Run the test before shipping.",
    ]
    return lines, {"tokenizer": TOKENIZER, "test_vectors": TEST_VECTORS, "sources": list(FILES[target])}
