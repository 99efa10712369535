"""Loading the source model and exporting the one canonical SavedModel every converter starts from.

TensorFlow is imported inside functions only: this module is imported by ``edgekit convert`` after the
cheap argument checks have passed.
"""

from __future__ import annotations

import math
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from edgekit.data import check_allocation
from edgekit.errors import ConversionError, InputError, first_line
from edgekit.manifest import TensorSpec, sha256_path

KERAS_SUFFIXES = (".keras",)
H5_SUFFIXES = (".h5", ".hdf5")
H5_MAGIC = b"\x89HDF\r\n\x1a\n"


@dataclass
class Source:
    path: Path
    kind: str  # keras | h5 | saved_model
    sha256: str
    keras_model: Any | None  # keras.Model for keras/h5 sources
    inputs: list[TensorSpec]  # names and shapes as exported in the canonical SavedModel
    op_check: str = "passed"  # SavedModel only: "passed" or "skipped (--trust-source)"

    def describe(self) -> dict[str, Any]:
        d: dict[str, Any] = {"path": str(self.path), "kind": self.kind, "sha256": self.sha256}
        # The trust model (docs/security.md): Keras files are loaded in safe mode; a SavedModel is code.
        if self.kind == "saved_model":
            d.update(executes_code=True, op_check=self.op_check)
        else:
            d.update(executes_code=False, safe_mode=True)
        return d


SAVED_MODEL_NOTICE = ("a SavedModel is code: TensorFlow ran its graph with your rights during convert, and "
                      "validate runs it again (see docs/security.md)")


def sniff(path: Path) -> str:
    """Decide what MODEL is without importing TensorFlow; raise InputError when it is not a model."""
    if not path.exists():
        raise InputError(f"model {path} does not exist; give a .keras file, a .h5 file or a SavedModel folder")
    if path.is_dir():
        if (path / "saved_model.pb").is_file() or (path / "saved_model.pbtxt").is_file():
            return "saved_model"
        raise InputError(f"{path} is a folder without saved_model.pb: not a SavedModel; give a .keras file or "
                         "a SavedModel folder")
    with open(path, "rb") as f:
        head = f.read(8)
    if path.suffix.lower() in KERAS_SUFFIXES or head.startswith(b"PK"):
        if not zipfile.is_zipfile(path):
            raise InputError(f"{path} is not a valid .keras archive (not a zip file; truncated or corrupt?); "
                             "re-save it with model.save('model.keras')")
        with zipfile.ZipFile(path) as z:
            names = set(z.namelist())
        if "config.json" not in names:
            raise InputError(f"{path} is a zip file without config.json: not a Keras 3 .keras model")
        return "keras"
    if path.suffix.lower() in H5_SUFFIXES or head == H5_MAGIC:
        if head != H5_MAGIC:
            raise InputError(f"{path} has an .h5 name but is not an HDF5 file (truncated or corrupt?)")
        return "h5"
    raise InputError(f"{path} is not a model edgekit can read (expected a .keras file, a legacy .h5 file or a "
                     "SavedModel folder)")


def parse_input_shapes(specs: list[str]) -> dict[str | None, list[int]]:
    """``1,96,96,3`` or ``NAME:1,96,96,3`` -> {name or None: [dims]}."""
    out: dict[str | None, list[int]] = {}
    for s in specs:
        name, _, dims = s.rpartition(":")
        try:
            shape = [int(d) for d in dims.split(",") if d.strip()]
        except ValueError:
            raise InputError(f"--input-shape {s!r}: dimensions must be integers like 1,96,96,3") from None
        if not shape or any(d < 1 for d in shape):
            raise InputError(f"--input-shape {s!r}: give positive dimensions like 1,96,96,3")
        # One float32 sample must fit in memory, or every later step dies with MemoryError.
        check_allocation(math.prod(shape[1:]) * 4, f"--input-shape {s!r} (one float32 sample)",
                         "give the shape the model really takes")
        out[name or None] = shape
    return out


def load(path: Path, kind: str, input_shapes: dict[str | None, list[int]],
         trust: bool = False) -> tuple[Source, Any]:
    """Load MODEL. Returns the Source and a callable used for reference outputs and export.

    A SavedModel whose serving signature reaches file-system or process ops is refused unless ``trust``.
    """
    import tensorflow as tf  # noqa: F401  (import once, here)

    sha = sha256_path(path)
    if kind in ("keras", "h5"):
        import keras

        try:
            # safe_mode=True: refuse Lambda layers that would deserialize arbitrary Python (no unpickling).
            model = keras.saving.load_model(path, compile=False, safe_mode=True)
        except Exception as e:  # Keras raises many types for a bad file; all mean "cannot load this model"
            raise InputError(f"cannot load {path} as a Keras model ({type(e).__name__}: {first_line(e)}); "
                             "check that the file is complete and was saved by Keras 3") from e
        specs = _keras_input_specs(model, input_shapes)
        return Source(path, kind, sha, model, specs), model
    if not trust:
        from edgekit.graph_check import refuse_unsafe_ops

        refuse_unsafe_ops(path)
    loaded = _load_saved_model(path)
    sigs = getattr(loaded, "signatures", {})
    if "serving_default" not in sigs:
        raise InputError(f"SavedModel {path} has no 'serving_default' signature (has {sorted(sigs)}); export it "
                         "with a serving signature")
    fn = sigs["serving_default"]
    _, kw = fn.structured_input_signature
    specs = []
    for name in sorted(kw):
        spec = kw[name]
        specs.append(_resolve_shape(name, list(spec.shape.as_list()), spec.dtype.name, input_shapes, len(kw)))
    return Source(path, kind, sha, None, specs, "skipped (--trust-source)" if trust else "passed"), loaded


def _load_saved_model(path: Path) -> Any:
    import tensorflow as tf

    try:
        return tf.saved_model.load(str(path))
    except Exception as e:  # TF raises OSError, NotFoundError, DecodeError, ValueError... for a damaged folder
        if not (path / "variables").is_dir():
            raise InputError(f"SavedModel {path} has no variables/ folder (copied without it?): TensorFlow cannot "
                             "load it; copy the whole SavedModel folder, or re-export it") from e
        raise InputError(f"cannot load SavedModel {path} ({type(e).__name__}: {first_line(e)}); check that "
                         "the folder is complete (saved_model.pb, variables/) or re-export it") from e


def _keras_input_specs(model: Any, input_shapes: dict[str | None, list[int]]) -> list[TensorSpec]:
    specs = []
    inputs = model.inputs
    if not inputs:
        raise InputError("the Keras model has no defined inputs (a subclassed model never called?); save a "
                         "functional or Sequential model, or build it before saving")
    for t in inputs:
        name = t.name.split(":")[0]
        specs.append(_resolve_shape(name, list(t.shape), str(t.dtype), input_shapes, len(inputs)))
    return specs


def _resolve_shape(name: str, shape: list[int | None], dtype: str, overrides: dict[str | None, list[int]],
                   n_inputs: int) -> TensorSpec:
    dtype = dtype.replace("tf.", "")
    override = overrides.get(name, overrides.get(None) if n_inputs == 1 else None)
    if override is not None:
        if len(override) != len(shape):
            raise InputError(f"--input-shape for {name!r} has {len(override)} dimensions but the input has "
                             f"{len(shape)} ({shape})")
        for o, s in zip(override[1:], shape[1:], strict=True):
            if s is not None and o != s:
                raise InputError(f"--input-shape {override} contradicts the known shape {shape} of input {name!r}")
        # The batch dimension stays dynamic in the SavedModel; runtimes use batch 1 (or the golden batch).
        shape = [None] + list(override[1:])
    if any(d is None for d in shape[1:]):
        raise InputError(f"input {name!r} has unknown dimensions beyond batch: {shape}; give them with "
                         f"--input-shape {name}:1,{','.join(str(d or 'N') for d in shape[1:])}")
    return TensorSpec(name=name, shape=[None] + [int(d) for d in shape[1:]], dtype=dtype)


def export_saved_model(source: Source, model: Any, out: Path) -> None:
    """Write the canonical SavedModel (serving_default with the static non-batch shapes) to ``out``."""
    import tensorflow as tf

    sig = [tf.TensorSpec([None] + t.shape[1:], tf.as_dtype(t.dtype), name=t.name) for t in source.inputs]
    try:
        if source.keras_model is not None:
            # One spec per model input (built from model.inputs): several inputs go as one list.
            arg = [sig] if len(sig) > 1 else [sig[0]]
            model.export(str(out), format="tf_saved_model", input_signature=arg, verbose=False)
        else:
            fn = model.signatures["serving_default"]
            _, kw = fn.structured_input_signature
            static = all(list(kw[t.name].shape.as_list()[1:]) == t.shape[1:] for t in source.inputs)
            if static:
                shutil.copytree(source.path, out)
            else:
                # Re-trace with the shapes from --input-shape so every converter sees static dimensions.
                @tf.function(input_signature=sig)
                def serving(*args):
                    return fn(**{t.name: a for t, a in zip(source.inputs, args, strict=True)})

                tf.saved_model.save(model, str(out), signatures={"serving_default": serving})
    except InputError:
        raise
    except Exception as e:
        raise ConversionError(f"exporting the SavedModel failed: {type(e).__name__}: {str(e)[:300]}") from e


def saved_model_signature(path: Path) -> tuple[list[TensorSpec], list[TensorSpec]]:
    """serving_default's inputs and outputs, read from saved_model.pb without loading the model (fast)."""
    import tensorflow as tf
    from tensorflow.core.protobuf import saved_model_pb2

    proto = saved_model_pb2.SavedModel()
    proto.ParseFromString((Path(path) / "saved_model.pb").read_bytes())
    sig = proto.meta_graphs[0].signature_def["serving_default"]

    def specs(table: Any) -> list[TensorSpec]:
        out = []
        for name in sorted(table):
            info = table[name]
            dims = [d.size for d in info.tensor_shape.dim]
            out.append(TensorSpec(name, [None] + [None if d < 0 else int(d) for d in dims[1:]],
                                  tf.as_dtype(info.dtype).name))
        return out

    return specs(sig.inputs), specs(sig.outputs)


def run_signature(fn: Any, inputs: list[TensorSpec], outputs: list[TensorSpec], arrays: dict[str, np.ndarray],
                  batch: int = 32) -> dict[str, np.ndarray]:
    """Reference outputs of the SavedModel's serving signature on ``arrays`` (keys = input names)."""
    import tensorflow as tf

    n = next(iter(arrays.values())).shape[0]
    chunks: dict[str, list[np.ndarray]] = {o.name: [] for o in outputs}
    for i in range(0, n, batch):
        feed = {t.name: tf.constant(arrays[t.name][i:i + batch]) for t in inputs}
        res = fn(**feed)
        for o in outputs:
            chunks[o.name].append(res[o.name].numpy())
    return {k: np.concatenate(v, axis=0) for k, v in chunks.items()}
