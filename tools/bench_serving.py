"""Serving throughput: `python tools/bench_serving.py [--models lenet5,resnet50,bert_base] [--requests 200]`.

Serves each model with `keras-landmarks serve` and loads it from concurrent clients; reports requests/s,
p50/p99 and the server ÷ in-process ratio, and where a request's time goes, in the serving section of
docs/benchmarks.md (raw numbers in docs/benchmarks_serving.json; `--from-json` re-renders the section).
"""

import argparse
import sys

from keras_landmarks.export.serving_bench import DEFAULT_MODELS, render, run_all


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default=",".join(DEFAULT_MODELS), help="comma-separated registry names")
    parser.add_argument("--requests", type=int, default=200, help="requests per model (default 200)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients (default 8)")
    parser.add_argument("--output", default="docs/benchmarks.md", help="Markdown file whose serving section is written")
    parser.add_argument("--raw", default="docs/benchmarks_serving.json", help="where the raw numbers go")
    parser.add_argument("--from-json", action="store_true", help="re-render the section from --raw, no measuring")
    args = parser.parse_args()
    if args.from_json:
        print(render(args.raw, args.output))
        return
    if args.requests < args.clients or args.clients < 1:
        parser.error(f"--requests must be at least --clients (>= 1). Received: {args.requests}, {args.clients}")
    _, text = run_all(tuple(m for m in args.models.split(",") if m), args.requests, args.clients, args.output, args.raw)
    print(text)


if __name__ == "__main__":
    sys.exit(main())
