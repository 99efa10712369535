"""The JavaScript libraries edgekit serves to browsers (and copies into web bundles), taken from the
project's own npm install in ``edgekit/js/node_modules`` (versions pinned by its package-lock.json).

Never a CDN: validation must test the exact pinned files, and a bundle must work offline.
"""

from __future__ import annotations

from pathlib import Path

from edgekit import setup_js

NODE_MODULES = setup_js.node_modules()  # `edgekit setup`'s per-user cache, or a checkout's edgekit/js/node_modules

# Groups of files, each served and bundled flat under one ``vendor/`` folder: tfjs' setWasmPaths and
# onnxruntime-web's wasmPaths both take that folder, and no two file names collide.
GROUPS: dict[str, tuple[str, ...]] = {
    # UMD builds: each defines or extends the global `tf`; loaded in this order.
    "tfjs": (
        "@tensorflow/tfjs-core/dist/tf-core.min.js",
        "@tensorflow/tfjs-backend-cpu/dist/tf-backend-cpu.min.js",
        "@tensorflow/tfjs-converter/dist/tf-converter.min.js",
    ),
    "tfjs-wasm": (
        "@tensorflow/tfjs-backend-wasm/dist/tf-backend-wasm.min.js",
        # tfjs picks one of the three at run time: plain, SIMD, or SIMD + threads (cross-origin isolated pages).
        "@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm",
        "@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm",
        "@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm",
    ),
    "tfjs-webgl": ("@tensorflow/tfjs-backend-webgl/dist/tf-backend-webgl.min.js",),
    "tfjs-webgpu": ("@tensorflow/tfjs-backend-webgpu/dist/tf-backend-webgpu.min.js",),
    # onnxruntime-web's wasm-only build: the script imports the .mjs glue, which fetches the .wasm.
    "ort": (
        "onnxruntime-web/dist/ort.wasm.min.js",
        "onnxruntime-web/dist/ort-wasm-simd-threaded.mjs",
        "onnxruntime-web/dist/ort-wasm-simd-threaded.wasm",
    ),
    # LiteRT.js: an ES module (its helper package mapped by the page's import map) and one emscripten
    # loader + wasm pair per build. loadLiteRt(folder) picks the build: relaxed-SIMD ("internal"), else
    # "compat"; with {jspi: true} (WebGPU partitioning) "jspi"; with {threads: true} "threaded".
    # Pages import index.js (LiteRT.js) with an import map that points "@litertjs/wasm-utils" at bundle.js.
    "litert": (
        "@litertjs/core/dist/index.js",
        "@litertjs/wasm-utils/dist/bundle.js",
        "@litertjs/core/wasm/litert_wasm_internal.js",
        "@litertjs/core/wasm/litert_wasm_internal.wasm",
        "@litertjs/core/wasm/litert_wasm_compat_internal.js",
        "@litertjs/core/wasm/litert_wasm_compat_internal.wasm",
    ),
    "litert-jspi": (
        "@litertjs/core/wasm/litert_wasm_jspi_internal.js",
        "@litertjs/core/wasm/litert_wasm_jspi_internal.wasm",
    ),
    "litert-threads": (
        "@litertjs/core/wasm/litert_wasm_threaded_internal.js",
        "@litertjs/core/wasm/litert_wasm_threaded_internal.wasm",
    ),
}


# What package each group comes from, for version reports and bundle READMEs.
PACKAGES = {
    "tfjs": ("@tensorflow/tfjs-core", "@tensorflow/tfjs-backend-cpu", "@tensorflow/tfjs-converter"),
    "tfjs-wasm": ("@tensorflow/tfjs-backend-wasm",),
    "tfjs-webgl": ("@tensorflow/tfjs-backend-webgl",),
    "tfjs-webgpu": ("@tensorflow/tfjs-backend-webgpu",),
    "ort": ("onnxruntime-web",),
    "litert": ("@litertjs/core", "@litertjs/wasm-utils"),
    "litert-jspi": ("@litertjs/core",),
    "litert-threads": ("@litertjs/core",),
}


def files(*groups: str) -> dict[str, Path]:
    """``{file name: path in node_modules}`` for ``groups`` (names are unique across groups)."""
    out: dict[str, Path] = {}
    for g in groups:
        for rel in GROUPS[g]:
            out[Path(rel).name] = NODE_MODULES / rel
    return out


def missing(*groups: str) -> list[str]:
    """Files of ``groups`` absent from node_modules (relative paths), empty when all are there."""
    return [rel for g in groups for rel in GROUPS[g] if not (NODE_MODULES / rel).is_file()]


def versions(*groups: str) -> dict[str, str]:
    """Installed versions of the packages behind ``groups`` (read from their package.json)."""
    import json

    out: dict[str, str] = {}
    for g in groups:
        for pkg in PACKAGES[g]:
            try:
                out[pkg] = json.loads((NODE_MODULES / pkg / "package.json").read_text(encoding="utf-8"))["version"]
            except (OSError, KeyError, ValueError):
                out[pkg] = "missing"
    return out
