"""One Python load of the canonical SavedModel per conversion run, shared by every converter.

TensorFlow 2.19's TFLite converter loads the whole SavedModel in Python twice per conversion (once in
``from_saved_model`` to find the signature, once in ``convert()`` only for debug info); tensorflowjs and
tf2onnx each load it again. For MobileNetV2 a load costs about 1.3 s, so four TFLite variants plus two
other formats paid it ten times. The converters' own loader functions are wrapped so that a folder
registered with ``share`` is loaded once and reused; every other path goes straight through, and
``release`` drops the object when the run ends. The loaded object is only read by the converters
(signature lookup, variable freezing, debug info).
"""

from __future__ import annotations

import importlib
import threading
from typing import Any

_LOCK = threading.Lock()
_SHARED: dict[str, Any] = {}  # folder -> loaded object (None until first loaded)
# (module, attribute) of each converter's SavedModel loader, as that converter looks it up.
_LOADERS = (
    ("tensorflow.lite.python.lite", "_load"),  # TFLite converter: from_saved_model() and convert()
    ("tensorflowjs.converters.tf_saved_model_conversion_v2", "load"),  # tensorflowjs
    ("tensorflow.saved_model", "load"),  # tf2onnx calls tf.saved_model.load(path, tags=...)
)


def _wrap(original: Any) -> Any:
    def load(export_dir: Any, *args: Any, **kwargs: Any) -> Any:
        key = str(export_dir)
        with _LOCK:
            if key not in _SHARED:
                return original(export_dir, *args, **kwargs)
            if _SHARED[key] is None:
                _SHARED[key] = original(export_dir, *args, **kwargs)
            return _SHARED[key]

    load._edgekit_original = original  # type: ignore[attr-defined]
    return load


def _install(module_name: str) -> None:
    for mod_name, attr in _LOADERS:
        if mod_name != module_name:
            continue
        try:
            mod = importlib.import_module(mod_name)
        except ImportError:
            continue
        current = getattr(mod, attr, None)
        if current is not None and not hasattr(current, "_edgekit_original"):
            setattr(mod, attr, _wrap(current))


def install(module_name: str) -> None:
    """Wrap the loader of one converter module (imported by the caller, which needs it anyway)."""
    with _LOCK:
        _install(module_name)


def share(saved_model_dir: Any) -> None:
    with _LOCK:
        _SHARED.setdefault(str(saved_model_dir), None)


def release(saved_model_dir: Any) -> None:
    with _LOCK:
        _SHARED.pop(str(saved_model_dir), None)
