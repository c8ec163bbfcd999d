"""Benchmark the runtimes: `python tools/bench.py [--models resnet50,vgg16,...] [--runs 20]`.

Times Keras (eager, tf.function, XLA), the SavedModel, each TFLite variant and ONNX Runtime at batch
1 and 8 (token models at length 128), ours beside keras.applications' ResNet50 and VGG16 and keras-hub's
BertBackbone and GPT2CausalLM, the int8 schemes of BERT-base, and writes docs/benchmarks.md (raw numbers
in docs/benchmarks.json). `--models a,b --update` re-measures some rows and keeps the others.
"""

import argparse
import sys

from keras_landmarks.export.bench import DEFAULT_MODELS, render, run_all


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default=",".join(DEFAULT_MODELS),
                        help="comma-separated registry names or keras_applications/<Name>")
    parser.add_argument("--runs", type=int, default=20, help="timed calls per measurement (median; >= 20)")
    parser.add_argument("--output", default="docs/benchmarks.md")
    parser.add_argument("--update", action="store_true",
                        help="keep the other models' rows of the output's JSON (only --models are re-measured)")
    parser.add_argument("--from-json", metavar="PATH", help="re-render the table from a run's raw numbers, no measuring")
    args = parser.parse_args()
    if args.from_json:
        print(render(args.from_json, args.output))
        return
    if args.runs < 20:
        parser.error(f"--runs must be at least 20. Received: {args.runs}")
    try:
        _, text = run_all(tuple(m for m in args.models.split(",") if m), runs=args.runs, output=args.output,
                          update=args.update)
    except ValueError as error:
        parser.error(str(error))
    print(text)


if __name__ == "__main__":
    sys.exit(main())
