"""Errors raised by keras_landmarks.

Every error names the offending value and what is allowed, so that a user (or the CLI, which prints
them as one line) can fix the call without reading the source.
"""


import difflib


def close_matches(name, candidates):
    """The names a mistyped `name` most likely meant (for "Did you mean" hints)."""
    return difflib.get_close_matches(str(name), list(candidates), n=5, cutoff=0.5)


class LandmarkError(Exception):
    """Base class of every error this package raises on purpose."""


class UnknownModelError(LandmarkError, KeyError):
    """A model name that is not in the registry (a `KeyError`, as for any failed lookup)."""

    def __init__(self, name, suggestions=()):
        self.name = name
        self.suggestions = tuple(suggestions)
        message = f"Unknown model {name!r}."
        if self.suggestions:
            message += " Did you mean: " + ", ".join(self.suggestions) + "?"
        message += " Run `keras-landmarks list` to see every registered model."
        super().__init__(message)

    def __str__(self):
        # KeyError.__str__ would wrap the message in quotes.
        return self.args[0]


class ConfigError(LandmarkError, ValueError):
    """An override that is unknown, of the wrong type, or of an impossible value."""

    def __init__(self, message, *, key=None, value=None):
        self.key = key
        self.value = value
        super().__init__(message)


class ExportError(LandmarkError, RuntimeError):
    """A conversion that failed or whose artifact does not compute what the Keras model computes."""


class TrainingError(LandmarkError, RuntimeError):
    """A training run that cannot go on: its loss became NaN or infinite."""


def check_filter(key, value, known):
    """`list_models`' `task` / `family` filters: None, or one of `known` (a typo is not "no match")."""
    if value is not None and value not in known:
        raise ConfigError(f"Unknown {key} {value!r}. Allowed: {', '.join(sorted(known))}.", key=key, value=value)
