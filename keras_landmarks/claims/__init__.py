"""The papers' headline claims, reproduced at small scale: `keras-landmarks reproduce CLAIM`.

A claim is a function with a fixed protocol (dataset, registry models, steps, seeds) that trains
through this package, returns its numbers and writes a figure; the verdict compares the numbers with
the paper's statement by a rule fixed before the run, and says "held" or "not shown" with the seeds
and their spread. An effect that does not show at this scale is reported as not shown.

    keras_landmarks.claims.reproduce("vae-elbo", quick=True, out="claims")
    keras-landmarks reproduce --list

`reproduce` writes `<out>/<claim>/`: `figure.png`, `result.json` (the numbers, the protocol, the
verdict) and `verdict.md` (one paragraph). `--quick` runs the same protocol on fewer data and steps
(to check that it runs, not to decide the claim). A claim is one function and its `register_claim`
call in a module imported here.
"""

import dataclasses
import json
import os
import pathlib
import shutil
import time
from typing import Callable

from keras_landmarks.errors import ConfigError, close_matches

_CLAIMS = {}


@dataclasses.dataclass(frozen=True)
class Claim:
    """name: the command's argument; paper: who claimed it; statement: the claim, one sentence;
    protocol: the fixed protocol, one paragraph; rule: how the numbers decide "held"; run: (folder,
    quick, seeds, progress) -> {"numbers": ..., "held": bool, "summary": one sentence of numbers}, writing
    `folder/figure.png`; seeds: how many by default."""

    name: str
    paper: str
    statement: str
    protocol: str
    rule: str
    run: Callable
    seeds: int = 3


def register_claim(claim):
    if claim.name in _CLAIMS:
        raise ValueError(f"Claim {claim.name!r} is already registered.")
    _CLAIMS[claim.name] = claim
    return claim


def _filled():
    if not _CLAIMS:
        from keras_landmarks.claims import control, generative, language, recurrent  # noqa: F401  (register their claims)


def list_claims():
    _filled()
    return sorted(_CLAIMS)


def get_claim(name):
    _filled()
    if name not in _CLAIMS:
        hint = close_matches(name, _CLAIMS)
        raise ConfigError(f"Unknown claim {name!r}." + (f" Did you mean: {', '.join(hint)}?" if hint else "")
                          + f" Claims: {', '.join(sorted(_CLAIMS))}.", key="claim", value=name)
    return _CLAIMS[name]


def verdict(claim, result, seeds, quick):
    """The one-paragraph verdict."""
    word = "held" if result["held"] else "not shown"
    scale = " (quick mode: a check that the protocol runs, too small to decide the claim)" if quick else ""
    return (f"**{claim.name}: {word}{scale}.** {claim.paper} claim that {claim.statement} Protocol: "
            f"{claim.protocol} Measured over seeds {', '.join(map(str, seeds))}: {result['summary']} Rule: "
            f"{claim.rule}")


def reproduce(name, *, quick=False, seeds=None, out="claims", progress=True):
    """Run claim `name`; its record (also in `<out>/<name>/result.json`). The folder is replaced whole:
    a run that fails leaves the previous one as it was."""
    claim = get_claim(name)
    count = claim.seeds if seeds is None else seeds
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 20:
        raise ConfigError(f"Invalid number of seeds {count!r}: an integer from 1 to 20.", key="seeds", value=count)
    from keras_landmarks import options

    out = options.writable_folder(out)
    final = out / name
    partial = out / f".{name}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    started = time.perf_counter()
    try:
        result = claim.run(partial, quick, tuple(range(count)), progress)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    text = verdict(claim, result, tuple(range(count)), quick)
    record = {"claim": claim.name, "paper": claim.paper, "statement": claim.statement, "protocol": claim.protocol,
              "rule": claim.rule, "quick": quick, "seeds": list(range(count)), "held": bool(result["held"]),
              "summary": result["summary"], "numbers": result["numbers"],
              "seconds": round(time.perf_counter() - started, 1), "verdict": text, "figure": "figure.png"}
    (partial / "result.json").write_text(json.dumps(record, indent=1))
    (partial / "verdict.md").write_text(text + "\n")
    if final.exists():
        shutil.rmtree(final)
    os.replace(partial, final)
    return {**record, "out": str(final)}


__all__ = ["Claim", "get_claim", "list_claims", "register_claim", "reproduce"]
