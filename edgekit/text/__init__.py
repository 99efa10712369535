"""Text models: the tokenizer spec (tokenizer.json), its Python implementation, and splitting a Keras model
at its TextVectorization / StringLookup / IntegerLookup layer (docs/text.md)."""
