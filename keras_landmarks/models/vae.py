"""Variational autoencoder (VAE): the reparameterised ELBO.

Kingma & Welling. "Auto-Encoding Variational Bayes." ICLR 2014. https://arxiv.org/abs/1312.6114

The encoder $q_\\phi(z|x)$ and the decoder $p_\\theta(x|z)$ are MLPs with one tanh hidden layer
(Appendix C.2); the encoder gives the mean and log-variance of a diagonal Gaussian, and $z$ is drawn
with the reparameterisation trick (§2.4),

$$z = \\mu + \\sigma \\odot \\epsilon, \\qquad \\epsilon \\sim \\mathcal{N}(0, I).$$

The decoder is Bernoulli: it gives each pixel's probability. Training maximises the SGVB estimate of
the evidence lower bound (eq. 10), with the KL term in closed form (Appendix B) *summed* over the $J$
latent dimensions, and the reconstruction log-likelihood summed over the pixels:

$$\\mathcal{L}(\\theta, \\phi; x) = \\tfrac{1}{2} \\sum_{j=1}^{J} \\big(1 + \\log \\sigma_j^2 - \\mu_j^2 -
\\sigma_j^2\\big) + \\log p_\\theta(x \\mid z).$$

The registered model is the whole VAE as one functional model: it takes the images and the noise
$\\epsilon$ as inputs (so every runtime computes the same thing, and parity is deterministic) and
returns the reconstruction, $\\mu$ and $\\log \\sigma^2$. Its encoder and decoder are nested models
(`<name>_encoder`, `<name>_decoder`); `VAE(model)` wraps it with `encode`, `decode` and `sample`, and
trains it (`train_step`). A training run saves the encoder and the decoder beside the VAE, each a
model `keras-landmarks convert` exports on its own (the decoder is the generator to ship).

Deviations:
- Images are flattened from the dataset's (28, 28, 1) and the reconstruction reshaped back; the paper
  works on 784-vectors directly.
- The recipe uses Keras's Adagrad (learning rate 0.02, one of the paper's {0.01, 0.02, 0.1}, batch
  100); the paper's weight-decay term (a N(0, I) prior on the parameters) is left out.
"""

import keras
from keras import ops

from keras_landmarks.config import check_activation, check_image_input, check_positive
from keras_landmarks.errors import ConfigError
from keras_landmarks.inputs import Image, Latent
from keras_landmarks.registry import Paper, register
from keras_landmarks.training.procedures import Built, Procedure, register_procedure, write_grid
from keras_landmarks.training.recipe import Recipe

PAPER = Paper(
    title="Auto-Encoding Variational Bayes",
    authors="Diederik P. Kingma, Max Welling",
    year=2013,
    venue="ICLR 2014",
    url="https://arxiv.org/abs/1312.6114",
    extends=("variational inference", "autoencoders"),
    adopted_by=("beta-VAE", "VQ-VAE", "latent diffusion (the VAE as its image codec)"),
)


@keras.saving.register_keras_serializable(package="keras_landmarks")
class Reparameterize(keras.layers.Layer):
    """$z = \\mu + \\exp(\\tfrac{1}{2} \\log \\sigma^2) \\odot \\epsilon$ (§2.4), with $\\epsilon$ an input."""

    def call(self, mean, log_var, noise):
        return mean + ops.exp(0.5 * log_var) * noise

    def compute_output_shape(self, mean_shape, log_var_shape, noise_shape):
        return mean_shape


def _encoder(input_shape, hidden_dim, latent_dim, activation, init, name):
    images = keras.Input(shape=tuple(input_shape), name="images")
    x = keras.layers.Flatten(name="flatten")(images)
    h = keras.layers.Dense(hidden_dim, activation=activation, kernel_initializer=init(), name="hidden")(x)
    mean = keras.layers.Dense(latent_dim, kernel_initializer=init(), name="mean")(h)
    log_var = keras.layers.Dense(latent_dim, kernel_initializer=init(), name="log_var")(h)
    return keras.Model(images, {"mean": mean, "log_var": log_var}, name=f"{name}_encoder")


def _decoder(output_shape, hidden_dim, latent_dim, activation, init, name):
    latent = keras.Input(shape=(latent_dim,), name="latent")
    h = keras.layers.Dense(hidden_dim, activation=activation, kernel_initializer=init(), name="hidden")(latent)
    pixels = 1
    for d in output_shape:
        pixels *= d
    x = keras.layers.Dense(pixels, activation="sigmoid", kernel_initializer=init(), name="probabilities")(h)
    images = keras.layers.Reshape(tuple(output_shape), name="images")(x)
    return keras.Model(latent, images, name=f"{name}_decoder")


def VariationalAutoencoder(
    *,
    latent_dim: int = 20,
    hidden_dim: int = 500,
    input_shape: tuple = (28, 28, 1),
    hidden_activation: str = "tanh",
    name: str = "vae_mlp",
):
    """The MNIST VAE of the paper's Appendix C.2: 784-500-(μ, log σ²) encoder, J-500-784 decoder."""
    _parts_check(name, latent_dim, hidden_dim, input_shape, hidden_activation)
    encoder = _encoder(input_shape, hidden_dim, latent_dim, hidden_activation, _init, name)
    decoder = _decoder(input_shape, hidden_dim, latent_dim, hidden_activation, _init, name)
    images = keras.Input(shape=tuple(input_shape), name="images")
    noise = keras.Input(shape=(latent_dim,), name="noise")
    moments = encoder(images)
    mean = keras.layers.Identity(name="mean")(moments["mean"])
    log_var = keras.layers.Identity(name="log_var")(moments["log_var"])
    z = Reparameterize(name="z")(mean, log_var, noise)
    reconstruction = keras.layers.Identity(name="reconstruction")(decoder(z))
    return keras.Model({"images": images, "noise": noise},
                       {"reconstruction": reconstruction, "mean": mean, "log_var": log_var}, name=name)


def _parts_check(name, latent_dim, hidden_dim, input_shape, hidden_activation):
    check_positive(name, "latent_dim", latent_dim)
    check_positive(name, "hidden_dim", hidden_dim)
    check_image_input(name, input_shape, (), fixed=True)
    check_activation(name, "hidden_activation", hidden_activation)


def _init():  # "random sampling from N(0, 0.01)" (§5); a fresh initializer per layer
    return keras.initializers.RandomNormal(stddev=0.01)


def VAEDecoder(*, latent_dim: int = 20, hidden_dim: int = 500, input_shape: tuple = (28, 28, 1),
               hidden_activation: str = "tanh", name: str = "vae_mlp_decoder"):
    """The VAE's generative model p(x|z) alone (J-500-784, Bernoulli means): the network to ship, as
    a trained `vae_mlp` run saves it (`vae_mlp_decoder.keras`)."""
    _parts_check(name, latent_dim, hidden_dim, input_shape, hidden_activation)
    return _decoder(input_shape, hidden_dim, latent_dim, hidden_activation, _init, name.removesuffix("_decoder"))


def VAEEncoder(*, latent_dim: int = 20, hidden_dim: int = 500, input_shape: tuple = (28, 28, 1),
               hidden_activation: str = "tanh", name: str = "vae_mlp_encoder"):
    """The VAE's recognition model q(z|x) alone (784-500-(μ, log σ²)), as a run saves it."""
    _parts_check(name, latent_dim, hidden_dim, input_shape, hidden_activation)
    return _encoder(input_shape, hidden_dim, latent_dim, hidden_activation, _init, name.removesuffix("_encoder"))


def negative_elbo(images, reconstruction, mean, log_var):
    """(−ELBO, −log p(x|z), KL(q(z|x) ‖ p(z))) per example, in nats: the KL summed over the latent
    dimensions and the Bernoulli log-likelihood over the pixels (eq. 10 and Appendix B)."""
    axes = tuple(range(1, len(images.shape)))
    p = ops.clip(reconstruction, 1e-7, 1.0 - 1e-7)
    reconstruction_nll = -ops.sum(images * ops.log(p) + (1.0 - images) * ops.log(1.0 - p), axis=axes)
    kl = -0.5 * ops.sum(1.0 + log_var - ops.square(mean) - ops.exp(log_var), axis=-1)
    return reconstruction_nll + kl, reconstruction_nll, kl


class VAE(keras.Model):
    """A registry VAE with what users call, and its training step.

        vae = VAE(keras_landmarks.build("vae_mlp"))
        mean, log_var = vae.encode(images)
        images = vae.decode(z)
        images = vae.sample(16, seed=0)

    `train_step` takes one Monte-Carlo sample of $z$ per example (L = 1, as the paper's MNIST runs) and
    minimises the batch mean of −ELBO; it reports `loss` (−ELBO), `reconstruction` and `kl`, in nats per
    image."""

    def __init__(self, model, seed=0, **kwargs):
        super().__init__(**kwargs)
        self.vae = model
        self.encoder = model.get_layer(f"{model.name}_encoder")
        self.decoder = model.get_layer(f"{model.name}_decoder")
        self.latent_dim = int(model.get_layer("z").output.shape[-1])
        self.noise = keras.random.SeedGenerator(seed)
        self.trackers = {k: keras.metrics.Mean(name=k) for k in ("loss", "reconstruction", "kl")}

    @property
    def metrics(self):
        return list(self.trackers.values())

    def call(self, inputs, training=False):
        return self.vae(inputs, training=training)

    def encode(self, images):
        """(μ, log σ²) of q(z|x)."""
        moments = self.encoder(images, training=False)
        return moments["mean"], moments["log_var"]

    def decode(self, z):
        """Pixel probabilities of p(x|z)."""
        return self.decoder(z, training=False)

    def sample(self, count, seed=None):
        """`count` images decoded from z ~ N(0, I)."""
        z = keras.random.normal((count, self.latent_dim), seed=seed)
        return self.decode(z)

    def terms(self, images, noise, training=False):
        out = self.vae({"images": images, "noise": noise}, training=training)
        return negative_elbo(images, out["reconstruction"], out["mean"], out["log_var"])

    def train_step(self, data):
        import tensorflow as tf

        images = data[0] if isinstance(data, tuple) else data
        noise = keras.random.normal((ops.shape(images)[0], self.latent_dim), seed=self.noise)
        with tf.GradientTape() as tape:
            loss, reconstruction, kl = self.terms(images, noise, training=True)
            mean_loss = ops.mean(loss)
        gradients = tape.gradient(mean_loss, self.vae.trainable_variables)
        self.optimizer.apply(gradients, self.vae.trainable_variables)
        for key, value in (("loss", loss), ("reconstruction", reconstruction), ("kl", kl)):
            self.trackers[key].update_state(value)
        return {k: t.result() for k, t in self.trackers.items()}


class VAETraining(Procedure):
    """The ELBO (`Recipe.loss="elbo"`) on an image dataset; held-out −ELBO with a fixed ε per image; a
    grid of samples from the prior after each epoch and every `--checkpoint-every` steps
    (`samples/step-XXXXXXXX.png`)."""

    name = "vae"
    losses = ("elbo",)
    precisions = ("float32",)
    strategies = ("none",)

    def build(self, spec, overrides, weights, recipe, total_steps, classes, dataset=None):
        from keras_landmarks import registry
        from keras_landmarks.training.recipe import optimizer

        if weights is not None:
            raise ConfigError(f"{spec.name} has no weight source to start from.", key="weights", value=str(weights))
        model = registry.build(spec.name, **overrides)
        trainer = VAE(model)
        trainer.compile(optimizer=optimizer(recipe, total_steps))
        decoder, encoder = trainer.decoder, trainer.encoder
        return Built(trainer, [(trainer.optimizer, model.trainable_variables)],
                     {spec.name: model, decoder.name: decoder, encoder.name: encoder})

    def preprocessing(self, built, train_images):
        from keras_landmarks.training.data import Preprocessing

        height, width, channels = built.trainer.vae.inputs[0].shape[1:]
        return Preprocessing((int(height), int(width)), int(channels), (0.0, 1.0))

    def evaluate(self, trainer, batches):
        import numpy as np

        totals, count, rng = np.zeros(3), 0, np.random.default_rng(0)
        for images, _ in batches:
            noise = ops.convert_to_tensor(rng.standard_normal((len(images), trainer.latent_dim)).astype("float32"))
            terms = trainer.terms(images, noise)
            totals += [float(ops.sum(t)) for t in terms]
            count += len(images)
        loss, reconstruction, kl = totals / count
        return {"loss": float(loss), "reconstruction": float(reconstruction), "kl": float(kl)}

    def snapshot(self, trainer, folder, step):
        samples = folder / "samples"
        samples.mkdir(parents=True, exist_ok=True)
        write_grid(trainer.sample(64, seed=1234), samples / f"step-{step:08d}.png")


register_procedure(VAETraining())


def _io(config):
    shape = tuple(config["input_shape"])
    latent = (None, config["latent_dim"])
    return {"inputs": {"images": (None, *shape), "noise": latent},
            "outputs": {"reconstruction": (None, *shape), "mean": latent, "log_var": latent}}


def _signatures(model):
    """`encode` (images → μ, log σ²) and `decode` (z → images) beside the serving default."""
    import tensorflow as tf

    encoder, decoder = model.get_layer(f"{model.name}_encoder"), model.get_layer(f"{model.name}_decoder")
    shape, latent = tuple(encoder.inputs[0].shape[1:]), int(decoder.inputs[0].shape[-1])

    @tf.function(input_signature=[tf.TensorSpec((None, *shape), tf.float32, name="images")])
    def encode(images):
        return encoder(images, training=False)

    @tf.function(input_signature=[tf.TensorSpec((None, latent), tf.float32, name="latent")])
    def decode(latent_vectors):
        return {"images": decoder(latent_vectors, training=False)}

    return {"encode": encode, "decode": decode}


def _recipe(config):
    return Recipe(optimizer="adagrad", learning_rate=0.02, batch_size=100, epochs=100, loss="elbo", metrics=(),
                  procedure="vae", source="Kingma & Welling 2013 §5: Adagrad (step size from {0.01, 0.02, 0.1}), "
                  "minibatches of M = 100, L = 1 sample of z per datapoint")


register(
    "vae_mlp",
    family="vae",
    builder=VariationalAutoencoder,
    paper=PAPER,
    params=815_824,
    params_source="Appendix C.2's MNIST VAE with J = 20: encoder 784·500 + 500 + 2·(500·20 + 20) = 412,540, "
                  "decoder 20·500 + 500 + 500·784 + 784 = 403,284 (J = 2: 788,788).",
    task="generator",
    io=_io,
    test_config={"latent_dim": 2, "hidden_dim": 16, "input_shape": (8, 8, 1)},
    description="Encoder and decoder MLPs trained on the reparameterised evidence lower bound.",
    inputs=lambda config: {"images": Image(value_range=(0.0, 1.0)), "noise": Latent()},
    signatures=_signatures,
    training=_recipe,
)

register(
    "vae_mlp_decoder",
    family="vae",
    builder=VAEDecoder,
    paper=PAPER,
    params=403_284,
    params_source="Appendix C.2's decoder with J = 20: 20·500 + 500 + 500·784 + 784.",
    task="generator",
    io=lambda config: {"inputs": {"latent": (None, config["latent_dim"])},
                       "outputs": {"images": (None, *config["input_shape"])}},
    test_config={"latent_dim": 2, "hidden_dim": 16, "input_shape": (8, 8, 1)},
    description="The VAE's decoder p(x|z): latents from N(0, I) to Bernoulli pixel means.",
    inputs=lambda config: {"latent": Latent()},
)
register(
    "vae_mlp_encoder",
    family="vae",
    builder=VAEEncoder,
    paper=PAPER,
    params=412_540,
    params_source="Appendix C.2's encoder with J = 20: 784·500 + 500 + 2·(500·20 + 20).",
    task="encoder",
    io=lambda config: {"inputs": {"images": (None, *config["input_shape"])},
                       "outputs": {"mean": (None, config["latent_dim"]), "log_var": (None, config["latent_dim"])}},
    test_config={"latent_dim": 2, "hidden_dim": 16, "input_shape": (8, 8, 1)},
    description="The VAE's encoder q(z|x): images to the mean and log-variance of z.",
    inputs=lambda config: {"images": Image(value_range=(0.0, 1.0))},
)

