"""The SavedModel artifact: the canonical export itself (written by edgekit.source.export_saved_model)."""

from __future__ import annotations

from edgekit.formats import Context, Target
from edgekit.manifest import Artifact


def convert(ctx: Context, target: Target) -> Artifact:
    import tensorflow as tf

    # The export already happened once, before any other format (or came from edgekit/export_cache.py: hit, miss
    # or off); this records it.
    return Artifact(
        id=target.id, format=target.format, variant=target.variant, path=target.path,
        converter={"tool": "keras.Model.export" if ctx.keras_model is not None else "tf.saved_model",
                   "version": tf.__version__, "options": {"signature": "serving_default"}},
        extra={"export_cache": ctx.shared.get("export_cache", "off")},
    )
