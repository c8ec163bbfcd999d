"""Generative adversarial networks: the minimax game, DCGAN's convolutional pair, and the Wasserstein
critic with weight clipping or a gradient penalty.

- Goodfellow et al. "Generative Adversarial Nets." NeurIPS 2014. https://arxiv.org/abs/1406.2661
- Radford, Metz & Chintala. "Unsupervised Representation Learning with Deep Convolutional Generative
  Adversarial Networks." ICLR 2016. https://arxiv.org/abs/1511.06434
- Arjovsky, Chintala & Bottou. "Wasserstein GAN." ICML 2017. https://arxiv.org/abs/1701.07875
- Gulrajani et al. "Improved Training of Wasserstein GANs." NeurIPS 2017. https://arxiv.org/abs/1704.00028

Each network has its own registry name, so each builds one exportable model: `gan_mlp` is the
generator (z → image) and `gan_mlp_discriminator` its discriminator; `dcgan` / `dcgan_discriminator`,
`wgan` / `wgan_critic` and `wgan_gp` / `wgan_gp_critic` likewise, and `wgan_toy` / `wgan_toy_critic` are
the 2-D pair of the WGAN-GP paper's toy experiments (its `gan_toy.py`: 3 × 512 ReLU, z of 2). `GAN(generator, discriminator, ...)`
holds a pair, samples from it (`generate`) and plays the game in its `train_step`:

$$\\min_G \\max_D \\; \\mathbb{E}_{x}[\\log D(x)] + \\mathbb{E}_{z}[\\log(1 - D(G(z)))]$$

(eq. 1 of Goodfellow et al.), one discriminator update then one generator update per step (k = 1, the
paper's experiments). The generator minimises $\\log(1 - D(G(z)))$ (`loss="minimax"`) or, as the
paper recommends early in training, maximises $\\log D(G(z))$ (`"non_saturating"`, the default).
WGAN's critic $f$ maximises $\\mathbb{E}_x[f(x)] - \\mathbb{E}_z[f(G(z))]$ with every critic weight clipped
to $[-c, c]$ after each of its updates (Algorithm 1: $n_{critic} = 5$, $c = 0.01$, RMSProp 5e-5);
WGAN-GP replaces the clipping by the penalty $\\lambda\\,\\mathbb{E}_{\\hat x}[(\\|\\nabla_{\\hat x} f(\\hat
x)\\|_2 - 1)^2]$ on random interpolates $\\hat x = \\epsilon x + (1 - \\epsilon) G(z)$ (Algorithm 1:
$\\lambda = 10$, Adam 1e-4, β = (0.5, 0.9)). Each critic update reads its own batch of real images.

Discriminators return the logit $\\ell$ of $D(x) = \\sigma(\\ell)$ (a critic its score): the losses take
$\\log D = -\\mathrm{softplus}(-\\ell)$ and $\\log(1 - D) = -\\mathrm{softplus}(\\ell)$, exact and stable
where a sigmoid output would saturate.

Deviations:
- `gan_mlp`: z ~ U(−1, 1) (the paper says only "noise"); dropout 0.2 on the discriminator's input and
  0.5 on its hidden layers, as the paper's pylearn2 configuration; SGD with momentum 0.5 at a constant
  learning rate 0.1 (the configuration decays the rate and raises the momentum to 0.7).
- DCGAN: the projection of z is a 4×4 transposed convolution from 1×1 (the same weights as the
  paper's dense projection and reshape); convolutions have no bias where BatchNorm follows, nor at the
  generator's output and the discriminator's last layer (the reference code's choice), which gives
  the counts of the table; BatchNorm's γ starts at N(1, 0.02) as in the reference code. The registered
  generator is the 64×64 one with 64 base filters (4×4×512 after the projection); the paper's Fig. 1
  LSUN generator starts from 4×4×1024 (`filters=128`: 12,658,432 parameters, `dcgan_lsun`).
- WGAN-GP's critic (`wgan_gp_critic`) has no normalization (convolutions keep their bias);
  `normalization="layer"` gives the layer normalization the paper recommends as a drop-in.
"""

import math

import keras
from keras import ops

from keras_landmarks.config import check_choice, check_positive, fail
from keras_landmarks.errors import ConfigError
from keras_landmarks.inputs import Image, Latent
from keras_landmarks.layers import Maxout
from keras_landmarks.registry import Paper, get_spec, register
from keras_landmarks.training.judge import image_range
from keras_landmarks.training.procedures import (Built, Procedure, partner_overrides, register_procedure,
                                                 write_grid, write_points)
from keras_landmarks.training.recipe import Option, Recipe

PAPER_GAN = Paper(
    title="Generative Adversarial Nets",
    authors="Ian J. Goodfellow, Jean Pouget-Abadie, Mehdi Mirza, Bing Xu, David Warde-Farley, Sherjil Ozair, "
            "Aaron Courville, Yoshua Bengio",
    year=2014,
    venue="NeurIPS",
    url="https://arxiv.org/abs/1406.2661",
    extends=("maxout networks", "dropout"),
    adopted_by=("dcgan", "wgan", "stylegan", "adversarial losses in super-resolution and translation"),
)
PAPER_DCGAN = Paper(
    title="Unsupervised Representation Learning with Deep Convolutional Generative Adversarial Networks",
    authors="Alec Radford, Luke Metz, Soumith Chintala",
    year=2015,
    venue="ICLR 2016",
    url="https://arxiv.org/abs/1511.06434",
    extends=("gan", "batch normalization", "all-convolutional nets"),
    adopted_by=("wgan", "progressive gans", "stylegan"),
)
PAPER_WGAN = Paper(
    title="Wasserstein GAN",
    authors="Martin Arjovsky, Soumith Chintala, Léon Bottou",
    year=2017,
    venue="ICML",
    url="https://arxiv.org/abs/1701.07875",
    extends=("gan", "dcgan"),
    adopted_by=("wgan_gp", "spectral normalization"),
)
PAPER_WGAN_GP = Paper(
    title="Improved Training of Wasserstein GANs",
    authors="Ishaan Gulrajani, Faruk Ahmed, Martin Arjovsky, Vincent Dumoulin, Aaron Courville",
    year=2017,
    venue="NeurIPS",
    url="https://arxiv.org/abs/1704.00028",
    extends=("wgan",),
    adopted_by=("progressive gans", "stylegan (its WGAN-GP configurations)"),
)

GAN_LOSSES = ("non_saturating", "minimax", "wasserstein", "wasserstein_gp")
def _init():
    """DCGAN §4: N(0, 0.02), a fresh initializer per layer (one instance would draw the same values)."""
    return keras.initializers.RandomNormal(stddev=0.02)


def _pixels(shape):
    return math.prod(shape)


def MLPGenerator(
    *,
    latent_dim: int = 100,
    hidden_dims: tuple = (1200, 1200),
    image_shape: tuple = (28, 28, 1),
    hidden_activation: str = "relu",
    output_activation: str = "sigmoid",
    name: str = "gan_mlp",
):
    """The GAN paper's MNIST generator: z (100) → 1200 ReLU → 1200 ReLU → 784 sigmoid."""
    check_positive(name, "latent_dim", latent_dim)
    for width in hidden_dims:
        check_positive(name, "hidden_dims", width)
    _check_image_shape(name, image_shape, power_of_two=False)
    check_choice(name, "output_activation", output_activation, ("sigmoid", "tanh"))
    latent = keras.Input(shape=(latent_dim,), name="latent")
    x = latent
    for i, width in enumerate(hidden_dims, 1):
        x = keras.layers.Dense(width, activation=hidden_activation, name=f"hidden{i}")(x)
    x = keras.layers.Dense(_pixels(image_shape), activation=output_activation, name="pixels")(x)
    images = keras.layers.Reshape(tuple(image_shape), name="images")(x)
    return keras.Model(latent, images, name=name)


def MaxoutDiscriminator(
    *,
    image_shape: tuple = (28, 28, 1),
    units: int = 240,
    pieces: int = 5,
    num_layers: int = 2,
    input_dropout: float = 0.2,
    dropout: float = 0.5,
    name: str = "gan_mlp_discriminator",
):
    """The GAN paper's MNIST discriminator: two maxout layers of 240 units × 5 pieces, dropout, one
    logit."""
    _check_image_shape(name, image_shape, power_of_two=False)
    for key, value in (("units", units), ("pieces", pieces), ("num_layers", num_layers)):
        check_positive(name, key, value)
    for key, value in (("input_dropout", input_dropout), ("dropout", dropout)):
        if not 0.0 <= value < 1.0:
            fail(name, key, value, "a rate in [0, 1)")
    images = keras.Input(shape=tuple(image_shape), name="images")
    x = keras.layers.Flatten(name="flatten")(images)
    if input_dropout:
        x = keras.layers.Dropout(input_dropout, name="input_dropout")(x)
    for i in range(1, num_layers + 1):
        x = Maxout(units, pieces, name=f"maxout{i}")(x)
        if dropout:
            x = keras.layers.Dropout(dropout, name=f"maxout{i}_dropout")(x)
    logits = keras.layers.Dense(1, name="logits")(x)
    return keras.Model(images, logits, name=name)


def _check_image_shape(name, image_shape, power_of_two=True):
    if len(image_shape) != 3 or any(not isinstance(d, int) or d < 1 for d in image_shape):
        fail(name, "image_shape", image_shape, "(height, width, channels) of positive integers")
    if power_of_two:
        height, width, _ = image_shape
        if height != width or height < 8 or height & (height - 1):
            fail(name, "image_shape", image_shape, "square images whose side is a power of two ≥ 8 (8, 16, 32, 64, …)")


def _stages(image_shape):
    return int(math.log2(image_shape[0])) - 2  # 4×4 doubled this many times


def _batch_norm(name):
    return keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5, gamma_initializer=keras.initializers.RandomNormal(
        1.0, 0.02), name=name)


def DCGANGenerator(
    *,
    latent_dim: int = 100,
    filters: int = 64,
    image_shape: tuple = (64, 64, 3),
    name: str = "dcgan",
):
    """DCGAN's generator: z projected to 4×4×(filters·2^(n−1)), then fractionally-strided 4×4
    convolutions that double the side and halve the width, BatchNorm and ReLU, tanh at the output
    (the paper's Fig. 1 and §3)."""
    check_positive(name, "latent_dim", latent_dim)
    check_positive(name, "filters", filters)
    _check_image_shape(name, image_shape)
    stages = _stages(image_shape)
    latent = keras.Input(shape=(latent_dim,), name="latent")
    x = keras.layers.Reshape((1, 1, latent_dim), name="project_reshape")(latent)
    width = filters * 2 ** (stages - 1)
    x = keras.layers.Conv2DTranspose(width, 4, padding="valid", use_bias=False, kernel_initializer=_init(),
                                     name="project")(x)  # (B, 4, 4, width)
    x = _batch_norm("project_bn")(x)
    x = keras.layers.ReLU(name="project_relu")(x)
    for i in range(1, stages):
        width //= 2
        x = keras.layers.Conv2DTranspose(width, 4, strides=2, padding="same", use_bias=False,
                                         kernel_initializer=_init(), name=f"up{i}")(x)  # side doubles
        x = _batch_norm(f"up{i}_bn")(x)
        x = keras.layers.ReLU(name=f"up{i}_relu")(x)
    x = keras.layers.Conv2DTranspose(image_shape[-1], 4, strides=2, padding="same", use_bias=False,
                                     kernel_initializer=_init(), name="to_images")(x)
    images = keras.layers.Activation("tanh", name="images")(x)
    return keras.Model(latent, images, name=name)


def DCGANDiscriminator(
    *,
    filters: int = 64,
    image_shape: tuple = (64, 64, 3),
    normalization: str | None = "batch",
    name: str = "dcgan_discriminator",
):
    """DCGAN's discriminator: strided 4×4 convolutions that halve the side and double the width,
    LeakyReLU 0.2, BatchNorm on all but the input layer, a last 4×4 convolution to one logit. The WGAN
    critic is the same network read as a score; WGAN-GP's has no BatchNorm (`normalization=None`)."""
    check_positive(name, "filters", filters)
    _check_image_shape(name, image_shape)
    check_choice(name, "normalization", normalization, ("batch", "layer", None))
    stages = _stages(image_shape)
    images = keras.Input(shape=tuple(image_shape), name="images")
    x, width = images, filters
    for i in range(stages):
        normalized = i > 0 and normalization is not None
        x = keras.layers.Conv2D(width, 4, strides=2, padding="same", use_bias=not normalized and normalization is None,
                                kernel_initializer=_init(), name=f"down{i + 1}")(x)  # side halves
        if normalized and normalization == "batch":
            x = _batch_norm(f"down{i + 1}_bn")(x)
        elif normalized:
            x = keras.layers.LayerNormalization(axis=(1, 2, 3), epsilon=1e-5, name=f"down{i + 1}_ln")(x)
        x = keras.layers.LeakyReLU(0.2, name=f"down{i + 1}_leaky_relu")(x)
        width *= 2
    x = keras.layers.Conv2D(1, 4, padding="valid", use_bias=normalization is None, kernel_initializer=_init(),
                            name="score")(x)  # (B, 1, 1, 1)
    logits = keras.layers.Flatten(name="logits")(x)
    return keras.Model(images, logits, name=name)


def ToyGenerator(*, latent_dim: int = 2, hidden_dim: int = 512, num_layers: int = 3, output_dim: int = 2,
                 name: str = "wgan_toy"):
    """WGAN-GP's toy generator (its `gan_toy.py`): z (2, N(0, I)) → 3 × 512 ReLU → a 2-D point."""
    for key, value in (("latent_dim", latent_dim), ("hidden_dim", hidden_dim), ("num_layers", num_layers),
                       ("output_dim", output_dim)):
        check_positive(name, key, value)
    latent = keras.Input(shape=(latent_dim,), name="latent")
    x = latent
    for i in range(1, num_layers + 1):
        x = keras.layers.Dense(hidden_dim, activation="relu", name=f"hidden{i}")(x)
    points = keras.layers.Dense(output_dim, name="points")(x)
    return keras.Model(latent, points, name=name)


def ToyCritic(*, input_dim: int = 2, hidden_dim: int = 512, num_layers: int = 3, name: str = "wgan_toy_critic"):
    """WGAN-GP's toy critic: a 2-D point → 3 × 512 ReLU → a score."""
    for key, value in (("input_dim", input_dim), ("hidden_dim", hidden_dim), ("num_layers", num_layers)):
        check_positive(name, key, value)
    points = keras.Input(shape=(input_dim,), name="points")
    x = points
    for i in range(1, num_layers + 1):
        x = keras.layers.Dense(hidden_dim, activation="relu", name=f"hidden{i}")(x)
    logits = keras.layers.Dense(1, name="logits")(x)
    return keras.Model(points, logits, name=name)


class GAN(keras.Model):
    """A generator and its discriminator (or critic), and the game between them.

        gan = GAN(keras_landmarks.build("dcgan"), keras_landmarks.build("dcgan_discriminator"))
        gan.compile(generator_optimizer, discriminator_optimizer)
        images = gan.generate(16, seed=0)

    `loss`: one of GAN_LOSSES. `critic_steps`: discriminator updates per generator update, each on its
    own slice of the step's real batch (which holds `critic_steps` × the batch size). `clip`: WGAN's
    weight clipping c. `penalty`: WGAN-GP's λ. `latent`: "uniform" (U(−1, 1)) or "normal" (N(0, I)).
    `train_step` reports `d_loss` and `g_loss`."""

    def __init__(self, generator, discriminator, loss="non_saturating", critic_steps=1, clip=None, penalty=None,
                 latent="uniform", seed=0, **kwargs):
        super().__init__(**kwargs)
        if loss not in GAN_LOSSES:
            raise ConfigError(f"Unknown GAN loss {loss!r}. Allowed: {', '.join(GAN_LOSSES)}.", key="loss", value=loss)
        if loss == "wasserstein_gp" and not penalty:
            raise ConfigError("loss='wasserstein_gp' needs a penalty weight λ > 0.", key="penalty", value=penalty)
        self.generator, self.discriminator = generator, discriminator
        self.loss_name, self.critic_steps, self.clip, self.penalty = loss, int(critic_steps), clip, penalty
        self.latent = latent
        self.latent_dim = int(generator.inputs[0].shape[-1])
        self.noise = keras.random.SeedGenerator(seed)
        self.trackers = {k: keras.metrics.Mean(name=k) for k in ("d_loss", "g_loss")}

    @property
    def metrics(self):
        return list(self.trackers.values())

    def compile(self, generator_optimizer, discriminator_optimizer):
        super().compile(optimizer=generator_optimizer)  # `optimizer.iterations` counts generator steps
        self.discriminator_optimizer = discriminator_optimizer

    def call(self, z, training=False):
        return self.generator(z, training=training)

    def sample_latent(self, count, seed=None):
        seed = self.noise if seed is None else seed
        if self.latent == "uniform":
            return keras.random.uniform((count, self.latent_dim), -1.0, 1.0, seed=seed)
        return keras.random.normal((count, self.latent_dim), seed=seed)

    def generate(self, count, seed=None):
        """`count` images G(z) from the prior (a fixed `seed` gives the same images)."""
        return self.generator(self.sample_latent(count, 0 if seed is None else seed), training=False)

    def discriminator_loss(self, real_scores, fake_scores):
        if self.loss_name.startswith("wasserstein"):
            return ops.mean(fake_scores) - ops.mean(real_scores)  # −(E f(x) − E f(G(z)))
        # −[log D(x) + log(1 − D(G(z)))], with D = σ(ℓ)
        return ops.mean(ops.softplus(-real_scores)) + ops.mean(ops.softplus(fake_scores))

    def generator_loss(self, fake_scores):
        if self.loss_name.startswith("wasserstein"):
            return -ops.mean(fake_scores)
        if self.loss_name == "minimax":
            return -ops.mean(ops.softplus(fake_scores))  # log(1 − D(G(z))), minimised
        return ops.mean(ops.softplus(-fake_scores))  # −log D(G(z))

    def gradient_penalty(self, real, fake):
        """E[(‖∇f(x̂)‖₂ − 1)²] at x̂ = εx + (1 − ε)G(z), ε ~ U[0, 1] per example (WGAN-GP Algorithm 1)."""
        import tensorflow as tf

        rank = len(real.shape)
        epsilon = keras.random.uniform((ops.shape(real)[0],) + (1,) * (rank - 1), seed=self.noise)
        mixed = epsilon * real + (1.0 - epsilon) * fake
        with tf.GradientTape() as tape:
            tape.watch(mixed)
            scores = self.discriminator(mixed, training=True)
        gradients = tape.gradient(scores, mixed)
        norms = ops.sqrt(ops.sum(ops.square(gradients), axis=tuple(range(1, rank))) + 1e-12)
        return ops.mean(ops.square(norms - 1.0))

    def fake(self, count, training=True):
        """`count` generated images, G(z) with z from the prior (StyleGAN overrides it: noise, mixing)."""
        return self.generator(self.sample_latent(count), training=training)

    def regularizer(self, real, fake):
        """What the discriminator's loss adds: WGAN-GP's penalty λ·E[(‖∇f(x̂)‖₂ − 1)²], else nothing."""
        return self.penalty * self.gradient_penalty(real, fake) if self.penalty else 0.0

    def prepare_step(self, real):
        """Runs before each step's updates, on its real images; what the discriminator is shown as real."""
        return real

    def train_step(self, data):
        import tensorflow as tf

        real_all = data[0] if isinstance(data, tuple) else data
        m = real_all.shape[0] // self.critic_steps
        real_all = self.prepare_step(real_all)
        d_weights, g_weights = self.discriminator.trainable_variables, self.generator.trainable_variables
        for i in range(self.critic_steps):  # the discriminator's (critic's) updates, each on fresh images
            real = real_all[i * m : (i + 1) * m]
            with tf.GradientTape() as tape:
                fake = self.fake(m)
                d_loss = self.discriminator_loss(self.discriminator(real, training=True),
                                                 self.discriminator(fake, training=True))
                d_loss = d_loss + self.regularizer(real, fake)
            self.discriminator_optimizer.apply(tape.gradient(d_loss, d_weights), d_weights)
            if self.clip:  # WGAN: clip every critic weight to [−c, c] after each update
                for weight in d_weights:
                    weight.assign(ops.clip(weight, -self.clip, self.clip))
        with tf.GradientTape() as tape:
            g_loss = self.generator_loss(self.discriminator(self.fake(m), training=True))
        self.optimizer.apply(tape.gradient(g_loss, g_weights), g_weights)
        self.trackers["d_loss"].update_state(d_loss)
        self.trackers["g_loss"].update_state(g_loss)
        return {k: t.result() for k, t in self.trackers.items()}


class GANTraining(Procedure):
    """Two networks and two optimizers (same recipe for both, as the four papers); `Recipe.options`:
    `discriminator` (its registry name), `critic_steps`, `clip`, `penalty`. Held out: the mean
    discriminator output on real test images and on as many samples (probabilities, or critic scores
    and their gap, the Wasserstein estimate, for the Wasserstein losses). A grid of 64 samples from a
    fixed z after each epoch and every `--checkpoint-every` steps (`samples/step-XXXXXXXX.png`)."""

    name = "gan"
    losses = GAN_LOSSES
    options = {
        "discriminator": Option(str, "the registry name of the critic / discriminator"),
        "critic_steps": Option(int, "critic updates per generator update", minimum=1, maximum=100),
        "clip": Option(float, "WGAN's critic weights clipped to [-c, c]", above=0.0),
        "penalty": Option(float, "the gradient penalty's weight λ", minimum=0.0),
    }
    precisions = ("float32",)
    strategies = ("none",)

    def images_per_step(self, recipe):
        return recipe.batch_size * int(recipe.options.get("critic_steps", 1))

    def build(self, spec, overrides, weights, recipe, total_steps, classes, dataset=None):
        from keras_landmarks import registry
        from keras_landmarks.training.recipe import optimizer

        if weights is not None:
            raise ConfigError(f"{spec.name} has no weight source to start from.", key="weights", value=str(weights))
        options = recipe.options
        generator = registry.build(spec.name, **overrides)
        partner = get_spec(options["discriminator"])
        discriminator = registry.build(partner.name, **partner_overrides(spec, partner, overrides))
        trainer = self.trainer(spec, overrides, generator, discriminator, recipe, total_steps)
        trainer.compile(optimizer(recipe, total_steps), optimizer(recipe, total_steps))
        return Built(trainer, [(trainer.optimizer, generator.trainable_variables),
                               (trainer.discriminator_optimizer, discriminator.trainable_variables)],
                     {generator.name: generator, discriminator.name: discriminator})

    def trainer(self, spec, overrides, generator, discriminator, recipe, total_steps):
        """The `GAN` that plays the recipe's game (a subclass's trainer: StyleGAN's)."""
        options = recipe.options
        latent = spec.inputs(spec.full_config(**overrides))["latent"].distribution
        return GAN(generator, discriminator, loss=recipe.loss, critic_steps=options.get("critic_steps", 1),
                   clip=options.get("clip") if recipe.loss == "wasserstein" else None,
                   penalty=options.get("penalty", 10.0) if recipe.loss == "wasserstein_gp" else None, latent=latent)

    def split(self, data, split, data_dir=None, manual_dir=None, **model):
        """An image dataset, or 2-D points (`gaussians8`, for the toy generator)."""
        from keras_landmarks.training.data import data_split

        return data_split(data, split, data_dir, manual_dir)

    def preprocessing(self, built, train_images):
        from keras_landmarks.training.data import Preprocessing

        generator = built.trainer.generator
        made, given = tuple(generator.outputs[0].shape[1:]), train_images.shape[1:]
        if (len(made) == 1) != (len(given) == 1) or (len(made) == 1 and made != given):
            what = f"points of {made[0]} coordinates" if len(made) == 1 else f"{made} images"
            raise ConfigError(f"{generator.name} makes {what}; the dataset holds examples of shape {given}.",
                              key="data", value=generator.name)
        if len(made) == 1:
            return Preprocessing.vectors()
        height, width, channels = made
        return Preprocessing((int(height), int(width)), int(channels), image_range(generator))

    def evaluate(self, trainer, batches):
        import numpy as np

        real_scores, fake_scores = [], []
        multiple = getattr(trainer, "batch_multiple", 1)  # minibatch stddev groups: whole groups only
        for i, (images, _) in enumerate(batches):
            images = images[: len(images) - len(images) % multiple]
            if not len(images):
                continue
            real_scores.append(keras.ops.convert_to_numpy(trainer.discriminator(images, training=False)))
            fake = trainer.generate(len(images), seed=1000 + i)
            fake_scores.append(keras.ops.convert_to_numpy(trainer.discriminator(fake, training=False)))
        real, fake = np.concatenate(real_scores)[:, 0], np.concatenate(fake_scores)[:, 0]
        if trainer.loss_name.startswith("wasserstein"):
            return {"critic_real": float(real.mean()), "critic_fake": float(fake.mean()),
                    "critic_gap": float(real.mean() - fake.mean())}
        sigmoid = lambda x: 1.0 / (1.0 + np.exp(-x))  # noqa: E731
        return {"d_real": float(sigmoid(real).mean()), "d_fake": float(sigmoid(fake).mean())}

    def snapshot(self, trainer, folder, step):
        samples = folder / "samples"
        samples.mkdir(parents=True, exist_ok=True)
        path = samples / f"step-{step:08d}.png"
        if len(trainer.generator.outputs[0].shape) == 2:  # points: a scatter plot of 2,000 samples
            write_points(keras.ops.convert_to_numpy(trainer.generate(2000, seed=1234)), path)
            return
        write_grid(trainer.generate(64, seed=1234), path, value_range=image_range(trainer.generator))



register_procedure(GANTraining())


def _generator_io(config):
    return {"inputs": {"latent": (None, config["latent_dim"])}, "outputs": {"images": (None, *config["image_shape"])}}


def _discriminator_io(config):
    return {"inputs": {"images": (None, *config["image_shape"])}, "outputs": {"logits": (None, 1)}}


def _recipe(discriminator, **values):
    options = {"discriminator": discriminator, **values.pop("options", {})}
    return lambda config: Recipe(procedure="gan", metrics=(), options=options, **values)


_LATENT_UNIFORM = {"latent": Latent(distribution="uniform")}
_GENERATOR_TEST = {"latent_dim": 4, "filters": 4, "image_shape": (8, 8, 1)}
_DISCRIMINATOR_TEST = {"filters": 4, "image_shape": (8, 8, 1)}

register(
    "gan_mlp",
    family="gan",
    builder=MLPGenerator,
    paper=PAPER_GAN,
    params=2_503_984,
    params_source="The paper's MNIST generator (its pylearn2 configuration): 100·1200 + 1200 + 1200·1200 + 1200 "
                  "+ 1200·784 + 784.",
    task="generator",
    io=_generator_io,
    test_config={"latent_dim": 4, "hidden_dims": (8, 8), "image_shape": (4, 4, 1)},
    description="The first GAN's MNIST generator: a ReLU MLP with sigmoid pixels.",
    inputs=lambda config: _LATENT_UNIFORM,
    training=_recipe("gan_mlp_discriminator", optimizer="sgd", learning_rate=0.1, momentum=0.5, batch_size=100,
                     epochs=100, loss="non_saturating",
                     source="Goodfellow et al. 2014 (its pylearn2 configuration): SGD, learning rate 0.1, momentum "
                            "0.5, minibatches of 100, k = 1; the non-saturating generator loss of §3"),
)
register(
    "gan_mlp_discriminator",
    family="gan",
    builder=MaxoutDiscriminator,
    paper=PAPER_GAN,
    params=1_231_441,
    params_source="Two maxout layers of 240 units × 5 pieces and a logit: 784·1200 + 1200 + 240·1200 + 1200 + "
                  "240 + 1.",
    task="discriminator",
    io=_discriminator_io,
    test_config={"image_shape": (4, 4, 1), "units": 6, "pieces": 2},
    description="The first GAN's MNIST discriminator: maxout layers with dropout.",
    inputs=lambda config: {"images": Image(value_range=(0.0, 1.0))},
)

_DCGAN_RECIPE = dict(optimizer="adam", learning_rate=2e-4, beta_1=0.5, batch_size=128, epochs=20,
                     loss="non_saturating", source="Radford et al. 2015 §4: Adam, learning rate 0.0002, β1 = 0.5, "
                     "minibatches of 128")
_WGAN_RECIPE = dict(optimizer="rmsprop", learning_rate=5e-5, batch_size=64, epochs=20, loss="wasserstein",
                    options={"critic_steps": 5, "clip": 0.01},
                    source="Arjovsky et al. 2017 Algorithm 1: RMSProp, α = 0.00005, c = 0.01, m = 64, n_critic = 5")
_WGAN_GP_RECIPE = dict(optimizer="adam", learning_rate=1e-4, beta_1=0.5, beta_2=0.9, batch_size=64, epochs=20,
                       loss="wasserstein_gp", options={"critic_steps": 5, "penalty": 10.0},
                       source="Gulrajani et al. 2017 Algorithm 1: Adam, α = 0.0001, β1 = 0.5, β2 = 0.9, λ = 10, "
                              "m = 64, n_critic = 5")
_GENERATORS = {
    "dcgan": (PAPER_DCGAN, {}, 3_576_704, "The 64×64 generator, 64 base filters, z of 100 (Radford et al.'s "
              "reference code): 100·16·512 + 1,024 + 512·256·16 + 512 + 256·128·16 + 256 + 128·64·16 + 128 + "
              "64·3·16.", _recipe("dcgan_discriminator", **_DCGAN_RECIPE)),
    "dcgan_lsun": (PAPER_DCGAN, {"filters": 128, "name": "dcgan_lsun"}, 12_658_432,
                   "The paper's Fig. 1 LSUN generator, 4×4×1024 after the projection: 100·16·1024 + 2,048 + "
                   "1024·512·16 + 1,024 + 512·256·16 + 512 + 256·128·16 + 256 + 128·3·16.",
                   _recipe("dcgan_discriminator", **_DCGAN_RECIPE)),
    "wgan": (PAPER_WGAN, {"name": "wgan"}, 3_576_704, "The DCGAN generator of the paper's experiments (§4), "
             "counted as `dcgan`.", _recipe("wgan_critic", **_WGAN_RECIPE)),
    "wgan_gp": (PAPER_WGAN_GP, {"name": "wgan_gp"}, 3_576_704, "The DCGAN generator of the paper's LSUN and "
                "architecture experiments, counted as `dcgan`.", _recipe("wgan_gp_critic", **_WGAN_GP_RECIPE)),
}
for _name, (_paper, _config, _params, _source, _training) in _GENERATORS.items():
    register(
        _name,
        family="wgan" if _name.startswith("wgan") else "dcgan",
        builder=DCGANGenerator,
        paper=_paper,
        config=_config,
        params=_params,
        params_source=_source,
        task="generator",
        io=_generator_io,
        test_config=_GENERATOR_TEST,
        description="DCGAN's all-convolutional generator: projection, fractionally-strided convolutions, BatchNorm.",
        inputs=lambda config: _LATENT_UNIFORM if config["name"].startswith("dcgan") else {"latent": Latent()},
        training=_training,
    )

_DISCRIMINATORS = {
    "dcgan_discriminator": (PAPER_DCGAN, {}, 2_765_568, "The 64×64 discriminator, 64 base filters: 3·64·16 + "
                            "64·128·16 + 256 + 128·256·16 + 512 + 256·512·16 + 1,024 + 512·16."),
    "wgan_critic": (PAPER_WGAN, {"name": "wgan_critic"}, 2_765_568, "The DCGAN discriminator read as a critic "
                    "(no sigmoid), counted as `dcgan_discriminator`."),
    "wgan_gp_critic": (PAPER_WGAN_GP, {"normalization": None, "name": "wgan_gp_critic"}, 2_764_737,
                       "The DCGAN discriminator without BatchNorm (§4), convolutions with biases: 3·64·16 + 64 + "
                       "64·128·16 + 128 + 128·256·16 + 256 + 256·512·16 + 512 + 512·16 + 1."),
}
for _name, (_paper, _config, _params, _source) in _DISCRIMINATORS.items():
    register(
        _name,
        family="wgan" if _name.startswith("wgan") else "dcgan",
        builder=DCGANDiscriminator,
        paper=_paper,
        config=_config,
        params=_params,
        params_source=_source,
        task="discriminator",
        io=_discriminator_io,
        test_config=_DISCRIMINATOR_TEST,
        description="DCGAN's all-convolutional discriminator: strided convolutions, LeakyReLU 0.2.",
        inputs=lambda config: {"images": Image(value_range=(-1.0, 1.0))},
    )

register(
    "wgan_toy",
    family="wgan",
    builder=ToyGenerator,
    paper=PAPER_WGAN_GP,
    params=527_874,
    params_source="Our count of the toy generator of the paper's code (gan_toy.py): 2·512 + 512 + 2·(512·512 + "
                  "512) + 512·2 + 2.",
    task="generator",
    io=lambda config: {"inputs": {"latent": (None, config["latent_dim"])},
                       "outputs": {"points": (None, config["output_dim"])}},
    test_config={"hidden_dim": 8},
    description="The 2-D toy generator of the WGAN-GP paper's Fig. 1 experiments.",
    inputs=lambda config: {"latent": Latent()},
    training=_recipe("wgan_toy_critic", optimizer="adam", learning_rate=1e-4, beta_1=0.5, beta_2=0.9,
                     batch_size=256, epochs=10, loss="wasserstein_gp",
                     options={"critic_steps": 5, "penalty": 0.1, "clip": 0.01},
                     source="Gulrajani et al. 2017, the toy code (gan_toy.py): Adam 1e-4, β = (0.5, 0.9), batches "
                            "of 256, five critic steps, λ = 0.1; `--loss wasserstein` clips the critic at ±0.01 "
                            "instead (WGAN)"),
)
register(
    "wgan_toy_critic",
    family="wgan",
    builder=ToyCritic,
    paper=PAPER_WGAN_GP,
    params=527_361,
    params_source="Our count of the toy critic of the paper's code (gan_toy.py): 2·512 + 512 + 2·(512·512 + 512) "
                  "+ 512 + 1.",
    task="discriminator",
    io=lambda config: {"inputs": {"points": (None, config["input_dim"])}, "outputs": {"logits": (None, 1)}},
    test_config={"hidden_dim": 8},
    description="The 2-D toy critic of the WGAN-GP paper's Fig. 1 experiments (clipping or gradient penalty).",
)
