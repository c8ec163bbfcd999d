"""How a model trains: optimizer, learning-rate schedule, batch size, loss, as its paper did.

A registry entry may carry `training=lambda config: Recipe(...)`; a model without one trains with its
task's default (`default_recipe`). Every option of `train()` overrides the recipe's value. A paper whose
contribution is its training (a VAE's ELBO, a GAN's two players) names its procedure
(`Recipe.procedure`, `keras_landmarks.training.procedures`) and the objective in `loss`; its
procedure-specific values (a GAN's discriminator, WGAN's clipping) are in `options`. A model that brings
its own `train_step` trains as a classifier with `Recipe.loss=None`.

Schedules are in steps, as fractions of the run, so that a paper's "divide by 10 at 32k and 48k of 64k
iterations" scales with a shortened run: `Recipe(schedule="steps", boundaries=(0.5, 0.75))`.
"""

import dataclasses
import math

import keras

from keras_landmarks.errors import ConfigError

OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop", "adagrad")
SCHEDULES = ("constant", "steps", "cosine", "warmup_linear", "linear", "rsqrt")


@dataclasses.dataclass(frozen=True)
class Recipe:
    """optimizer: one of OPTIMIZERS; learning_rate: the peak rate; momentum (sgd, rmsprop); beta_1 and
    beta_2 (adam, adamw);
    weight_decay: Keras's decoupled decay (for SGD, w ← w − lr·wd·w each step, the paper's L2 term
    without its interaction with momentum); schedule: one of SCHEDULES, with `boundaries` (fractions of
    the run where the rate divides by `decay_factor`) or `warmup` (fraction of the run); "linear" falls
    to 10⁻⁴ of the rate at the end (word2vec); "rsqrt" warms up, then falls as 1/√step (the Reformer);
    `options["initial_accumulator"]`: where AdaGrad's
    squared-gradient sums start (Keras's 0.1 unless set; GloVe's 1); clip_norm: the
    gradients' global norm is clipped to it (Keras's `global_clipnorm`; Zaremba et al.'s 5); source:
    where the values come from."""

    optimizer: str = "adam"
    learning_rate: float = 1e-3
    momentum: float = 0.0
    nesterov: bool = False
    beta_1: float = 0.9
    beta_2: float = 0.999
    weight_decay: float | None = None
    schedule: str = "constant"
    boundaries: tuple = ()
    decay_factor: float = 0.1
    warmup: float = 0.0
    clip_norm: float | None = None
    batch_size: int = 128
    epochs: int = 10
    loss: str | None = "sparse_categorical_crossentropy"
    metrics: tuple = ("accuracy",)
    procedure: str = "classification"
    options: dict = dataclasses.field(default_factory=dict)
    source: str = "the task's default (Adam 1e-3, batch 128): the registry names no paper recipe"

    @classmethod
    def from_dict(cls, data):
        """The recipe a run's train.json records (JSON lists back to tuples)."""
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})

    def replace(self, **changes):
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})

    def check(self):
        if self.optimizer not in OPTIMIZERS:
            raise ConfigError(f"Unknown optimizer {self.optimizer!r}. Allowed: {', '.join(OPTIMIZERS)}.",
                              key="optimizer", value=self.optimizer)
        if self.schedule not in SCHEDULES:
            raise ConfigError(f"Unknown schedule {self.schedule!r}. Allowed: {', '.join(SCHEDULES)}.",
                              key="schedule", value=self.schedule)
        if not (isinstance(self.learning_rate, (int, float)) and 0 < self.learning_rate < 10):
            raise ConfigError(f"Invalid learning rate {self.learning_rate!r}: a number in (0, 10).",
                              key="learning_rate", value=self.learning_rate)
        return self


@dataclasses.dataclass(frozen=True)
class Option:
    """What a recipe option takes, checked before a run builds anything: `kind` (int, float, bool or
    str; a float option takes an integer too), the bounds (`minimum`, or `above` when the bound is
    excluded, and `maximum`), the allowed `choices` of a string, and whether None is allowed
    (`optional`). `doc` says what the option does, in `info` and in the error."""

    kind: type
    doc: str = ""
    minimum: float | None = None
    above: float | None = None
    maximum: float | None = None
    choices: tuple = ()
    optional: bool = False

    def allowed(self):
        if self.choices:
            return "one of " + ", ".join(map(str, self.choices))
        what = {int: "an integer", float: "a finite number", bool: "True or False", str: "a string"}[self.kind]
        bounds = [f">= {self.minimum:g}" if self.minimum is not None else "",
                  f"> {self.above:g}" if self.above is not None else "",
                  f"<= {self.maximum:g}" if self.maximum is not None else ""]
        bounds = " and ".join(b for b in bounds if b)
        return f"{what} {bounds}".strip() + (" or None" if self.optional else "")

    def check(self, key, value, owner):
        """The value, or ConfigError naming it, the option and what it takes."""
        if value is None and self.optional:
            return value
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        ok = {int: isinstance(value, int) and number, float: number and math.isfinite(value),
              bool: isinstance(value, bool), str: isinstance(value, str)}[self.kind]
        ok = ok and (not self.choices or value in self.choices)
        if ok and self.kind in (int, float):
            ok = ((self.minimum is None or value >= self.minimum) and (self.above is None or value > self.above)
                  and (self.maximum is None or value <= self.maximum))
        if not ok:
            doc = f" ({self.doc})" if self.doc else ""
            raise ConfigError(f"Invalid value for recipe option {key!r} of {owner}: expected {self.allowed()}"
                              f"{doc}. Received: {key}={value!r}", key=key, value=value)
        return value


# Options every procedure takes (they change the optimizer, which `optimizer` builds for all of them).
RECIPE_OPTIONS = {
    "initial_accumulator": Option(float, "where AdaGrad's squared-gradient sums start", minimum=0.0),
}


# Tasks whose models learn by acting, not from a dataset: where their training is.
AGENT_TRAINING = {"q_function": "keras_landmarks.rl.train_dqn", "policy_value": "keras_landmarks.rl.train_zero"}


def default_recipe(task):
    if task == "image_classification":
        return Recipe()
    if task in AGENT_TRAINING:
        raise ConfigError(f"A {task} model learns by playing, not from a dataset: train it with "
                          f"{AGENT_TRAINING[task]} (Python).", key="task", value=task)
    raise ConfigError(f"No default training objective for task {task!r}; image_classification models train "
                      "with `train` (other tasks bring their own recipe).", key="task", value=task)


def learning_rate(recipe, total_steps):
    """The recipe's learning rate over `total_steps`: a float or a keras LearningRateSchedule."""
    lr = float(recipe.learning_rate)
    total = max(int(total_steps), 1)
    if recipe.schedule == "constant":
        return lr
    if recipe.schedule == "steps":
        bounds = [max(1, int(round(f * total))) for f in recipe.boundaries]
        values = [lr * recipe.decay_factor**i for i in range(len(bounds) + 1)]
        return keras.optimizers.schedules.PiecewiseConstantDecay(bounds, values)
    if recipe.schedule == "cosine":
        return keras.optimizers.schedules.CosineDecay(lr, total)
    if recipe.schedule == "linear":  # word2vec: down to 10⁻⁴ of the rate at the end of the run
        return keras.optimizers.schedules.PolynomialDecay(lr, total, end_learning_rate=lr * 1e-4, power=1.0)
    warm = max(1, int(round(recipe.warmup * total)))
    if recipe.schedule == "rsqrt":  # the Transformer's and the Reformer's: warm-up, then ∝ 1/√step
        return WarmupRsqrt(lr, warm)
    return WarmupLinear(lr, warm, total)  # BERT's warm-up, then linear decay


@keras.saving.register_keras_serializable(package="keras_landmarks")
class WarmupLinear(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up to `peak` over `warmup` steps, then linear decay to 0 at `total` (BERT)."""

    def __init__(self, peak, warmup, total):
        self.peak, self.warmup, self.total = float(peak), int(warmup), int(total)

    def __call__(self, step):
        step = keras.ops.cast(step, "float32")
        up = step / max(self.warmup, 1)
        down = (self.total - step) / max(self.total - self.warmup, 1)
        return self.peak * keras.ops.maximum(keras.ops.minimum(up, down), 0.0)

    def get_config(self):
        return {"peak": self.peak, "warmup": self.warmup, "total": self.total}


@keras.saving.register_keras_serializable(package="keras_landmarks")
class WarmupRsqrt(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up to `peak` over `warmup` steps, then `peak`·√(warmup / step) (Vaswani et al. 2017,
    §5.3, in the form trax's `multifactor` writes it: constant · linear_warmup · rsqrt_decay)."""

    def __init__(self, peak, warmup):
        self.peak, self.warmup = float(peak), int(warmup)

    def __call__(self, step):
        step = keras.ops.maximum(keras.ops.cast(step, "float32"), 1.0)
        warm = float(max(self.warmup, 1))
        return self.peak * keras.ops.minimum(step / warm, keras.ops.sqrt(warm / step))

    def get_config(self):
        return {"peak": self.peak, "warmup": self.warmup}


def optimizer(recipe, total_steps):
    """A Keras optimizer as the recipe says."""
    rate = learning_rate(recipe, total_steps)
    common = {"weight_decay": recipe.weight_decay, "global_clipnorm": recipe.clip_norm}
    if recipe.optimizer == "sgd":
        return keras.optimizers.SGD(rate, momentum=recipe.momentum, nesterov=recipe.nesterov, **common)
    if recipe.optimizer == "adam":
        return keras.optimizers.Adam(rate, beta_1=recipe.beta_1, beta_2=recipe.beta_2, **common)
    if recipe.optimizer == "adamw":
        common["weight_decay"] = 0.01 if recipe.weight_decay is None else recipe.weight_decay
        return keras.optimizers.AdamW(rate, beta_1=recipe.beta_1, beta_2=recipe.beta_2, **common)
    if recipe.optimizer == "adagrad":
        initial = recipe.options.get("initial_accumulator", 0.1)  # Keras's default; GloVe's tool starts at 1
        return keras.optimizers.Adagrad(rate, initial_accumulator_value=initial, **common)
    return keras.optimizers.RMSprop(rate, momentum=recipe.momentum, **common)
