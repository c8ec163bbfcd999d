"""Train each generative model briefly and keep its last sample grid: `python tools/sample_grids.py [--models a,b]`.

Each model is trained by the command a user runs (printed, and listed in docs/samples.json with its
time and held-out numbers); the grid the run wrote after its last epoch (`samples/step-*.png`) is
copied to docs/samples/<model>.png, which the README shows.
"""

import argparse
import json
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time

SMALL_DCGAN = ["--set", "image_shape=(32, 32, 1)", "--set", "filters=32"]
RUNS = {
    "vae_mlp": ["--epochs", "50"],
    "gan_mlp": ["--epochs", "50"],
    "dcgan": ["--epochs", "20", *SMALL_DCGAN],
    "wgan": ["--epochs", "60", *SMALL_DCGAN],
    "wgan_gp": ["--epochs", "60", *SMALL_DCGAN],
    "stylegan_32": ["--data", "fashion_mnist", "--steps", "2000", "--set", "fmap_base=256", "--set", "fmap_max=64"],
}
DATA = "mnist_5k"  # unless the model's options name another


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default=",".join(RUNS), help="comma-separated, of: " + ", ".join(RUNS))
    parser.add_argument("--docs", default="docs")
    args = parser.parse_args()
    docs = pathlib.Path(args.docs)
    (docs / "samples").mkdir(parents=True, exist_ok=True)
    raw = docs / "samples.json"
    records = json.loads(raw.read_text()) if raw.exists() else {}
    for model in args.models.split(","):
        if model not in RUNS:
            parser.error(f"Unknown model {model!r}; this tool trains: {', '.join(RUNS)}")
        with tempfile.TemporaryDirectory() as work:
            out = pathlib.Path(work) / model
            data = [] if "--data" in RUNS[model] else ["--data", DATA]
            command = ["keras-landmarks", "train", model, *data, *RUNS[model], "--out", str(out), "--quiet"]
            print(" ".join(a if " " not in a else repr(a) for a in command), file=sys.stderr, flush=True)
            started = time.perf_counter()
            if subprocess.run([sys.executable, "-m", "keras_landmarks.cli", *command[1:]]).returncode:
                sys.exit(f"training {model} failed")
            record = json.loads((out / "train.json").read_text())
            last = sorted((out / "samples").glob("step-*.png"))[-1]
            shutil.copyfile(last, docs / "samples" / f"{model}.png")
            styles = sorted((out / "samples").glob("style-step-*.png"))  # StyleGAN: truncation and mixing
            if styles:
                shutil.copyfile(styles[-1], docs / "samples" / f"{model}_styles.png")
        records[model] = {"command": " ".join(a if " " not in a else repr(a) for a in command[:-3]),
                          "minutes": round((time.perf_counter() - started) / 60, 1),
                          "steps": record["total_steps"], "results": record["results"]}
        raw.write_text(json.dumps(records, indent=1))
    print(f"wrote {docs / 'samples'}/ and {raw}")


if __name__ == "__main__":
    sys.exit(main())
