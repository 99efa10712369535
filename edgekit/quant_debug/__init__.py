"""int8 that meets an accuracy target: per-layer quantization statistics, the effect-based ranking of layers,
and the budget search that keeps the fewest layers in float (docs/quant-debug.md).

graph.py (static op graph -> Keras layers), score.py (golden-set score, numpy), search.py (ranking + search
logic), engine.py (TensorFlow: calibrate once, quantize many times), run.py (the search as one function),
records.py (typed records), debug.py + worker.py + page.py (`edgekit quant-debug`).
"""
