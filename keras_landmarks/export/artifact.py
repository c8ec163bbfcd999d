"""The format interface: what every export format implements, and what it is given to work with.

A format is one object in the table of `formats.py`, with a few attributes and three methods:

    class MyFormat(Format):
        name = "my_format"          # table key, `--formats` value, manifest "artifact"
        family = "my_format"        # `--formats` also takes the family: it selects the variants in `--quantize`
        variant = "none"            # "none" (float), "fp16", "dynamic", "int8"
        runtime = "onnxruntime"     # the runtime the parity check and latency run in
        sources = ("onnx",)         # formats whose artifact this one is made from (`ctx.source`)

        def filename(self, plan): return f"{plan.name}.my"
        def write(self, ctx, path): ...; return Written(details={...})
        def runner(self, path, num_threads=None): return lambda inputs: {output name: array}

The pipeline plans the artifacts, orders them so a source comes before what is made from it, calls
`write`, checks the result through `runner` against the Keras model (the gate follows `variant`),
times it, and records it in the manifest; `verify`, the CLI and the tools read the same table.
"""

import dataclasses
import pathlib

PRECISION = {"none": "float", "fp16": "fp16"}  # every other variant is gated as "quantized"


@dataclasses.dataclass(frozen=True)
class Written:
    """What `Format.write` reports: a batch the artifact fixed (None: the plan's), the peak memory of a
    child process it ran in (bytes), and format-specific manifest fields."""

    fixed_batch: int | None = None
    child_peak: int | None = None
    details: dict = dataclasses.field(default_factory=dict)


class Format:
    """Base class of the export formats (see the module docstring)."""

    name = ""
    family = ""
    variant = "none"
    runtime = ""
    sources = ()
    needs_calibration = False  # True: the plan must hold calibration samples (int8)
    timed = True  # False: the file is another artifact's (e.g. a copy in a server's layout); not timed again

    @property
    def precision(self):
        return PRECISION.get(self.variant, "quantized")

    def label(self):
        return self.family if self.variant == "none" else f"{self.family} ({self.variant})"

    def filename(self, plan):
        """The artifact's path relative to the export folder."""
        raise NotImplementedError

    def write(self, ctx, path):
        """Write the artifact at `path` (a file or folder under `ctx.work`) from `ctx.plan`; return `Written`."""
        raise NotImplementedError

    def runner(self, path, num_threads=None):
        """A callable {input name: array} -> {output name: array} running the artifact in its runtime."""
        raise NotImplementedError

    def files(self, path):
        """The artifact's path, then the files it reads beside it (hashed and listed separately)."""
        return [pathlib.Path(path)]

    def __repr__(self):
        return f"<format {self.name}>"


class Context:
    """What a format's `write` works with: the frozen plan, the work folder, and the artifacts of other
    formats (`source`), written once and shared. `scratch` is True where the artifact is only a source for
    another format: it is removed at the end and needs no side files."""

    scratch = False

    def __init__(self, plan, work, formats):
        self.plan = plan
        self.work = pathlib.Path(work)
        self._formats = formats
        self._written = {}  # (format name, batch size) -> path

    def add(self, fmt, path):
        """Record the planned artifact of `fmt`, so formats made from it use it as their source."""
        self._written[(fmt.name, self.plan.batch_size)] = path

    def source(self, name, batch_size="plan"):
        """The path of format `name`'s artifact for this model: the planned one if it was written, else one
        written now into a scratch folder (removed when the conversion ends). `batch_size` other than
        the plan's always gives a scratch artifact."""
        batch_size = self.plan.batch_size if batch_size == "plan" else batch_size
        key = (name, batch_size)
        if key not in self._written:
            fmt = self._formats[name]
            folder = self.work / ".sources" / f"{name}_batch{batch_size or 'dynamic'}"
            context = ScratchContext(self, batch_size)
            path = folder / fmt.filename(context.plan)
            path.parent.mkdir(parents=True, exist_ok=True)
            fmt.write(context, path)
            self._written[key] = path
        return self._written[key]


class ScratchContext(Context):
    """A context whose plan has another batch size, for scratch sources; it shares the parent's sources."""

    def __init__(self, parent, batch_size):
        super().__init__(dataclasses.replace(parent.plan, batch_size=batch_size, extra_signatures={}), parent.work,
                         parent._formats)
        self._written = parent._written

    scratch = True
