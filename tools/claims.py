"""Reproduce the papers' claims and write docs/claims.md: `python tools/claims.py [--claims a,b] [--quick]`.

Each claim runs as `keras-landmarks reproduce CLAIM` does (its fixed protocol, three seeds), in its own
process; its figure is copied to docs/claims/<claim>.png and its record to docs/claims.json, and
docs/claims.md shows every figure with its verdict. `--claims a,b` re-runs some and keeps the others'
records; `--render` only rewrites the page from docs/claims.json.
"""

import argparse
import json
import os
import pathlib
import platform
import shutil
import subprocess
import sys
import tempfile

DOCS = pathlib.Path("docs")


def render(records, output):
    lines = ["# Claims reproduced", "",
             f"Each claim's fixed protocol run by `python tools/claims.py` (as `keras-landmarks reproduce CLAIM`) "
             f"on one machine: {platform.machine()}, {os.cpu_count()} CPU cores, no GPU. A claim is *held* when "
             "its numbers pass the rule stated with it, fixed before the run, and *not shown* otherwise.", ""]
    lines += ["| claim | paper | verdict | seeds | minutes |", "|---|---|---|---:|---:|"]
    for name, r in sorted(records.items()):
        lines.append(f"| [`{name}`](#{name}) | {r['paper']} | {'held' if r['held'] else 'not shown'}"
                     f"{' (quick)' if r['quick'] else ''} | {len(r['seeds'])} | {r['seconds'] / 60:.1f} |")
    for name, r in sorted(records.items()):
        lines += ["", f"## {name}", "", f"![{name}](claims/{name}.png)", "", r["verdict"]]
    output.write_text("\n".join(lines) + "\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--claims", help="comma-separated claim names (default: every claim)")
    parser.add_argument("--quick", action="store_true", help="the quick protocol (a check that it runs)")
    parser.add_argument("--seeds", type=int, help="seeds per claim (default: the claim's)")
    parser.add_argument("--docs", default=str(DOCS), help="where claims.md, claims.json and claims/ go")
    parser.add_argument("--render", action="store_true", help="only rewrite claims.md from claims.json")
    args = parser.parse_args()
    docs = pathlib.Path(args.docs)
    raw = docs / "claims.json"
    records = json.loads(raw.read_text()) if raw.exists() else {}
    if not args.render:
        from keras_landmarks.claims import list_claims

        names = args.claims.split(",") if args.claims else list_claims()
        (docs / "claims").mkdir(parents=True, exist_ok=True)
        for name in names:
            print(f"reproducing {name} ...", file=sys.stderr, flush=True)
            with tempfile.TemporaryDirectory() as work:
                command = [sys.executable, "-m", "keras_landmarks.cli", "reproduce", name, "--out", work]
                command += ["--quick"] * args.quick + (["--seeds", str(args.seeds)] if args.seeds else [])
                if subprocess.run(command).returncode:
                    sys.exit(f"claim {name} failed")
                record = json.loads((pathlib.Path(work) / name / "result.json").read_text())
                shutil.copyfile(pathlib.Path(work) / name / "figure.png", docs / "claims" / f"{name}.png")
            records[name] = record
            raw.write_text(json.dumps(records, indent=1))
    render(records, docs / "claims.md")
    print(f"wrote {docs / 'claims.md'}")


if __name__ == "__main__":
    sys.exit(main())
