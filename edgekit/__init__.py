"""edgekit: from a compact Keras model to validated edge artifacts."""

__version__ = "0.1.0"
