"""Regenerate the registry's index (keras_landmarks/registry_index.json) and the model table in README.md.

    python tools/update_readme.py          # rewrite both
    python tools/update_readme.py --check  # exit 1 if either is stale
"""

import argparse
import pathlib
import sys

from keras_landmarks import index
from keras_landmarks.cli import model_table

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"
START, END = "<!-- model-table:start -->\n", "<!-- model-table:end -->"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="only check; exit 1 when the table is stale")
    args = parser.parse_args()
    fresh = index.dumps(index.build())
    if index.PATH.read_text(encoding="utf-8") != fresh:
        if args.check:
            sys.exit(f"{index.PATH} is stale: run `python tools/update_readme.py`")
        index.PATH.write_text(fresh, encoding="utf-8")
        index.load.cache_clear()
        print(f"updated {index.PATH}")
    text = README.read_text(encoding="utf-8")
    if START not in text or END not in text:
        sys.exit(f"{README} has no {START.strip()} ... {END} markers")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    updated = head + START + model_table() + END + tail
    if args.check:
        if updated != text:
            sys.exit("README.md's model table is stale: run `python tools/update_readme.py`")
        return
    README.write_text(updated, encoding="utf-8")
    print(f"updated {README}")


if __name__ == "__main__":
    main()
