"""From a recipe to what an app does with the artifact, in Python: train, convert, validate, then classify
new input the way a phone app would (tokenise outside the model, int8 I/O, reset the LSTM state).

Run: .venv/bin/python examples/recipe_to_app.py [--out recipe-app-out]   (offline, ~2 minutes on 2 cores)
The same three steps on the command line: edgekit train digit-rows-lstm; edgekit convert digit-rows-lstm-out;
edgekit validate digit-rows-lstm-out/artifacts.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("recipe-app-out"))
    args = ap.parse_args()

    from edgekit.convert import ConvertOptions, convert
    from edgekit.train import TrainOptions, train
    from edgekit.train.sequence import encode
    from edgekit.validate import ValidateOptions, validate

    trained = train("digit-rows-lstm", TrainOptions(out=args.out, force=True, log=print))
    print("trained:", trained.metrics)
    converted = convert(args.out, None, ConvertOptions(force=True))  # everything comes from train.json
    report = validate(converted.out, ValidateOptions())
    for row in report["results"]:
        acc = row["accuracy"] or {}
        print(f"{row['artifact']:15s} {row['runtime']:12s} {row['status']:5s} accuracy {acc.get('value')}")

    # What an app does: the vocabulary and the tokenizer settings ship in the folder.
    pre = json.loads((args.out / "preprocessing.json").read_text())
    vocab = json.loads((args.out / pre["vocabulary"]).read_text())
    labels = (args.out / "labels.txt").read_text().split()
    text = "00111100 01100110 01000010 01000010 01000010 01000010 01100110 00111100"  # a drawn zero
    tokens = encode([text], vocab, pre["tokenizer"], pre["lowercase"], pre["shape"][0])

    from ai_edge_litert.interpreter import Interpreter

    art = next(a for a in converted.manifest.artifacts if a.id == "tflite-int8")
    interp = Interpreter(model_path=str(converted.out / art.path))
    interp.allocate_tensors()
    inp, out = interp.get_input_details()[0], interp.get_output_details()[0]
    interp.reset_all_variables()  # the fused LSTM keeps its state between calls (manifest: requires_state_reset)
    interp.set_tensor(inp["index"], tokens.astype(inp["dtype"]))
    interp.invoke()
    raw = interp.get_tensor(out["index"]).astype(np.float32)
    scale, zero = out["quantization"]
    scores = scale * (raw - zero) if scale else raw
    print(f"'{text[:17]}...' -> {labels[int(scores.argmax())]} (int8 TFLite, {art.bytes} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
