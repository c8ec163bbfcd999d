"""StyleGAN: a style-based generator.

Karras, Laine & Aila. "A Style-Based Generator Architecture for Generative Adversarial Networks."
CVPR 2019. https://arxiv.org/abs/1812.04948

The latent $z$ is pixel-normalised and mapped by an 8-layer, 512-wide MLP $f$ (learning-rate multiplier
0.01) to $w \\in \\mathcal{W}$. The synthesis network starts from a learned 4×4×512 constant; at every
layer it adds per-pixel noise scaled per channel ("B"), a bias and a leaky ReLU, then AdaIN (eq. 1)
with the style $y = A(w)$, a learned affine map of $w$:

$$\\mathrm{AdaIN}(x_i, y) = y_{s,i} \\frac{x_i - \\mu(x_i)}{\\sigma(x_i)} + y_{b,i}.$$

Each resolution from 8×8 doubles the side (nearest up-sampling, a 3×3 convolution, a [1 2 1] blur),
two layers per resolution; every layer has the equalised learning rate of progressive GANs. A 1×1
"toRGB" convolution exists at every resolution, blended by the level of detail `lod` as in the
reference code's "linear" structure (`lod = 0`: the full resolution; progressive growing raises it and
lowers it during training). Truncation (§4, $w' = \\bar w + \\psi (w - \\bar w)$ on the first
`truncation_cutoff` layers, $\\bar w$ tracked during training) and style mixing (§3.1: the styles of
$z_2$ from a crossover layer on) are in `StyleGAN.generate`. The discriminator is progressive GANs':
"fromRGB" at each resolution, two 3×3 convolutions per block (the second blurred and down-sampled),
minibatch standard deviation (group of 4) before the last block, two dense layers.

The registered generator is the 1024² FFHQ one: 26,219,627 trainable parameters, the count of the
reference code (mapping 2,101,248; synthesis with every resolution's toRGB 24,118,379). The noise images
are explicit inputs (`noise_0` … `noise_17`, one per layer), so the exported generator is deterministic;
`StyleGAN.generate` draws them.

Deviations:
- Up-sampling is nearest-neighbour then the 3×3 convolution at every resolution; the reference code
  fuses the two into a transposed convolution from 128² on, the same operation.
- Each convolution adds its bias before the noise rather than after: both are additive, the output and
  the count are the same.
"""

import math

import keras
from keras import ops

from keras_landmarks.config import check_positive, fail
from keras_landmarks.errors import ConfigError
from keras_landmarks.inputs import Image, Latent
from keras_landmarks.layers import (
    AdaptiveInstanceNormalization,
    Blur2D,
    EqualizedConv2D,
    EqualizedDense,
    MinibatchStandardDeviation,
    NoiseInjection,
    PixelNormalization,
)
from keras_landmarks.models.gan import GAN, GANTraining
from keras_landmarks.registry import Paper, register
from keras_landmarks.training.procedures import register_procedure, write_grid
from keras_landmarks.training.recipe import Option, Recipe

PAPER = Paper(
    title="A Style-Based Generator Architecture for Generative Adversarial Networks",
    authors="Tero Karras, Samuli Laine, Timo Aila",
    year=2018,
    venue="CVPR 2019",
    url="https://arxiv.org/abs/1812.04948",
    extends=("progressive gans", "adaptive instance normalization (style transfer)", "wgan_gp", "dcgan"),
    adopted_by=("stylegan2", "stylegan3", "latent editing (GAN inversion)"),
)
SQRT2 = math.sqrt(2.0)


def noise_side(index):
    """The side of synthesis layer `index`'s noise image: two layers per resolution from 4×4."""
    return 4 * 2 ** (index // 2)


def _features(stage, fmap_base, fmap_max):
    """The reference code's nf(stage): min(fmap_base / 2^stage, fmap_max) feature maps."""
    return min(int(fmap_base / 2.0**stage), fmap_max)


@keras.saving.register_keras_serializable(package="keras_landmarks")
class LearnedConstant(keras.layers.Layer):
    """The synthesis network's learned 4×4×C input (initialised to ones) and its bias, repeated over the
    batch of the tensor it is called on."""

    def __init__(self, size, channels, **kwargs):
        super().__init__(**kwargs)
        self.size, self.channels = int(size), int(channels)

    def build(self, input_shape):
        self.const = self.add_weight(shape=(1, self.size, self.size, self.channels), initializer="ones", name="const")
        self.bias = self.add_weight(shape=(self.channels,), initializer="zeros", name="bias")

    def call(self, batch_like):
        return ops.tile(self.const + self.bias, (ops.shape(batch_like)[0], 1, 1, 1))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.size, self.size, self.channels)

    def get_config(self):
        return {**super().get_config(), "size": self.size, "channels": self.channels}


@keras.saving.register_keras_serializable(package="keras_landmarks")
class LevelOfDetail(keras.layers.Layer):
    """Progressive growing's blend (the reference code's `lerp_clip`): `new + (old − new)·clip(lod −
    level, 0, 1)` of this resolution's output and the previous one's; `lod` is a non-trainable weight
    (0: the full resolution) that `StyleGAN.set_lod` sets in every blend."""

    def __init__(self, level, **kwargs):
        super().__init__(**kwargs)
        self.level = int(level)

    def build(self, input_shape):
        self.lod = self.add_weight(shape=(), initializer="zeros", trainable=False, name="lod")

    def call(self, new, old):
        t = ops.clip(self.lod - self.level, 0.0, 1.0)
        return new + (old - new) * ops.cast(t, new.dtype)

    def compute_output_shape(self, new_shape, old_shape):
        return new_shape

    def get_config(self):
        return {**super().get_config(), "level": self.level}


@keras.saving.register_keras_serializable(package="keras_landmarks")
class Truncation(keras.layers.Layer):
    """Broadcasts w to every synthesis layer, (B, D) → (B, L, D), and applies the truncation trick
    $w' = \\bar w + \\psi (w - \\bar w)$ to the first `cutoff` layers ($\\psi$ = 1: none). $\\bar w$ is a
    non-trainable weight that training tracks (`StyleGAN.track_average`)."""

    def __init__(self, num_layers, psi=1.0, cutoff=8, **kwargs):
        super().__init__(**kwargs)
        self.num_layers, self.psi, self.cutoff = int(num_layers), float(psi), int(cutoff)

    def build(self, input_shape):
        self.average = self.add_weight(shape=(input_shape[-1],), initializer="zeros", trainable=False,
                                       name="dlatent_average")

    def call(self, w):
        w = ops.repeat(ops.expand_dims(w, 1), self.num_layers, axis=1)  # (B, L, D)
        if self.psi == 1.0:
            return w
        coefficients = ops.convert_to_tensor([self.psi if i < self.cutoff else 1.0 for i in range(self.num_layers)])
        coefficients = ops.reshape(ops.cast(coefficients, w.dtype), (1, self.num_layers, 1))
        return self.average + (w - self.average) * coefficients

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.num_layers, input_shape[-1])

    def get_config(self):
        return {**super().get_config(), "num_layers": self.num_layers, "psi": self.psi, "cutoff": self.cutoff}


@keras.saving.register_keras_serializable(package="keras_landmarks")
class LayerStyle(keras.layers.Layer):
    """The w of synthesis layer `index`: (B, L, D) → (B, D)."""

    def __init__(self, index, **kwargs):
        super().__init__(**kwargs)
        self.index = int(index)

    def call(self, dlatents):
        return dlatents[:, self.index]

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[2])

    def get_config(self):
        return {**super().get_config(), "index": self.index}


def _epilogue(x, noise, w, index, name):
    """Noise (B), leaky ReLU, AdaIN with the style A(w) of this layer."""
    x = NoiseInjection(name=f"{name}_noise")([x, noise])
    x = keras.layers.LeakyReLU(0.2, name=f"{name}_lrelu")(x)
    channels = x.shape[-1]
    w_i = LayerStyle(index, name=f"{name}_w")(w)  # (B, D): this layer's w
    # A: y = (y_s, y_b), biases starting at (1, 0), so that a fresh style is the identity (the reference's s + 1)
    style = EqualizedDense(2 * channels, gain=1.0, bias_initializer=[1.0] * channels + [0.0] * channels,
                           name=f"{name}_style")(w_i)
    return AdaptiveInstanceNormalization(name=f"{name}_adain")([x, style])


def _mapping(latent_dim, dlatent_dim, num_layers, lr_multiplier, name):
    z = keras.Input(shape=(latent_dim,), name="latent")
    x = PixelNormalization(name="normalize_latent")(z)
    for i in range(num_layers):
        x = EqualizedDense(dlatent_dim, lr_multiplier=lr_multiplier, gain=SQRT2, name=f"dense{i}")(x)
        x = keras.layers.LeakyReLU(0.2, name=f"dense{i}_lrelu")(x)
    return keras.Model(z, x, name=f"{name}_mapping")


def _synthesis(resolution, dlatent_dim, fmap_base, fmap_max, channels, name):
    levels = int(math.log2(resolution))
    num_layers = 2 * levels - 2
    dlatents = keras.Input(shape=(num_layers, dlatent_dim), name="dlatents")
    sizes = [noise_side(i) for i in range(num_layers)]
    noises = [keras.Input(shape=(s, s, 1), name=f"noise_{i}") for i, s in enumerate(sizes)]

    def to_rgb(x, level):
        return EqualizedConv2D(channels, 1, gain=1.0, name=f"to_rgb_{2 ** level}")(x)

    width = _features(1, fmap_base, fmap_max)
    x = LearnedConstant(4, width, name="const")(dlatents)
    x = _epilogue(x, noises[0], dlatents, 0, "4x4_const")
    x = EqualizedConv2D(width, 3, name="4x4_conv")(x)
    x = _epilogue(x, noises[1], dlatents, 1, "4x4_conv")
    images = to_rgb(x, 2)
    for level in range(3, levels + 1):
        side, width = 2**level, _features(level - 1, fmap_base, fmap_max)
        x = keras.layers.UpSampling2D(2, interpolation="nearest", name=f"{side}x{side}_up")(x)
        x = EqualizedConv2D(width, 3, name=f"{side}x{side}_conv0")(x)
        x = Blur2D(name=f"{side}x{side}_blur")(x)
        x = _epilogue(x, noises[2 * level - 4], dlatents, 2 * level - 4, f"{side}x{side}_conv0")
        x = EqualizedConv2D(width, 3, name=f"{side}x{side}_conv1")(x)
        x = _epilogue(x, noises[2 * level - 3], dlatents, 2 * level - 3, f"{side}x{side}_conv1")
        previous = keras.layers.UpSampling2D(2, interpolation="nearest", name=f"{side}x{side}_images_up")(images)
        images = LevelOfDetail(levels - level, name=f"{side}x{side}_grow")(to_rgb(x, level), previous)
    images = keras.layers.Identity(name="images")(images)
    return keras.Model({"dlatents": dlatents, **{f"noise_{i}": n for i, n in enumerate(noises)}}, images,
                       name=f"{name}_synthesis")


def StyleGANGenerator(
    *,
    resolution: int = 1024,
    latent_dim: int = 512,
    dlatent_dim: int = 512,
    mapping_layers: int = 8,
    mapping_lr_multiplier: float = 0.01,
    fmap_base: int = 8192,
    fmap_max: int = 512,
    channels: int = 3,
    truncation_psi: float = 1.0,
    truncation_cutoff: int = 8,
    name: str = "stylegan",
):
    """The style-based generator: mapping network, synthesis network, one input per noise image."""
    if resolution < 4 or resolution & (resolution - 1):
        fail(name, "resolution", resolution, "a power of two ≥ 4")
    for key, value in (("latent_dim", latent_dim), ("dlatent_dim", dlatent_dim), ("mapping_layers", mapping_layers),
                       ("fmap_base", fmap_base), ("fmap_max", fmap_max), ("channels", channels)):
        check_positive(name, key, value)
    if not 0.0 <= truncation_psi <= 1.0:
        fail(name, "truncation_psi", truncation_psi, "a number in [0, 1]")
    if mapping_lr_multiplier <= 0:
        fail(name, "mapping_lr_multiplier", mapping_lr_multiplier, "a number > 0")
    mapping = _mapping(latent_dim, dlatent_dim, mapping_layers, mapping_lr_multiplier, name)
    synthesis = _synthesis(resolution, dlatent_dim, fmap_base, fmap_max, channels, name)
    num_layers = 2 * int(math.log2(resolution)) - 2
    z = keras.Input(shape=(latent_dim,), name="latent")
    noises = {f"noise_{i}": keras.Input(shape=(noise_side(i),) * 2 + (1,), name=f"noise_{i}")
              for i in range(num_layers)}
    w = Truncation(num_layers, truncation_psi, truncation_cutoff, name="truncation")(mapping(z))
    images = synthesis({"dlatents": w, **noises})
    images = keras.layers.Identity(name="images")(images)
    return keras.Model({"latent": z, **noises}, images, name=name)


def StyleGANDiscriminator(
    *,
    resolution: int = 1024,
    fmap_base: int = 8192,
    fmap_max: int = 512,
    channels: int = 3,
    mbstd_group_size: int = 4,
    name: str = "stylegan_discriminator",
):
    """Progressive GANs' discriminator, as StyleGAN uses it, with every resolution's fromRGB."""
    if resolution < 4 or resolution & (resolution - 1):
        fail(name, "resolution", resolution, "a power of two ≥ 4")
    for key, value in (("fmap_base", fmap_base), ("fmap_max", fmap_max), ("channels", channels),
                       ("mbstd_group_size", mbstd_group_size)):
        check_positive(name, key, value)
    levels = int(math.log2(resolution))
    images = keras.Input(shape=(resolution, resolution, channels), name="images")

    def from_rgb(img, level):
        x = EqualizedConv2D(_features(level - 1, fmap_base, fmap_max), 1, name=f"from_rgb_{2 ** level}")(img)
        return keras.layers.LeakyReLU(0.2, name=f"from_rgb_{2 ** level}_lrelu")(x)

    x, img = from_rgb(images, levels), images
    for level in range(levels, 2, -1):
        side = 2**level
        x = EqualizedConv2D(_features(level - 1, fmap_base, fmap_max), 3, name=f"{side}x{side}_conv0")(x)
        x = keras.layers.LeakyReLU(0.2, name=f"{side}x{side}_conv0_lrelu")(x)
        x = Blur2D(name=f"{side}x{side}_blur")(x)
        x = EqualizedConv2D(_features(level - 2, fmap_base, fmap_max), 3, name=f"{side}x{side}_conv1")(x)
        x = keras.layers.AveragePooling2D(2, name=f"{side}x{side}_down")(x)
        x = keras.layers.LeakyReLU(0.2, name=f"{side}x{side}_conv1_lrelu")(x)
        img = keras.layers.AveragePooling2D(2, name=f"{side}x{side}_images_down")(img)
        x = LevelOfDetail(levels - level, name=f"{side // 2}x{side // 2}_grow")(x, from_rgb(img, level - 1))
    x = MinibatchStandardDeviation(mbstd_group_size, name="minibatch_stddev")(x)
    x = EqualizedConv2D(_features(1, fmap_base, fmap_max), 3, name="4x4_conv")(x)
    x = keras.layers.LeakyReLU(0.2, name="4x4_conv_lrelu")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = EqualizedDense(_features(0, fmap_base, fmap_max), name="4x4_dense0")(x)
    x = keras.layers.LeakyReLU(0.2, name="4x4_dense0_lrelu")(x)
    logits = EqualizedDense(1, gain=1.0, name="logits")(x)
    return keras.Model(images, logits, name=name)


class StyleGAN:
    """What users call on a StyleGAN generator (a registry model):

        sg = StyleGAN(keras_landmarks.build("stylegan_32", channels=1))
        images = sg.generate(8, truncation_psi=0.7, seed=0)
        mixed = sg.generate(8, mix_latents=z2, mix_from=4, seed=0)   # §3.1: z2's styles from layer 4 on

    The noise images are drawn from `seed` unless given."""

    def __init__(self, model):
        self.model = model
        self.mapping = model.get_layer(f"{model.name}_mapping")
        self.synthesis = model.get_layer(f"{model.name}_synthesis")
        self.truncation = model.get_layer("truncation")
        self.num_layers = self.truncation.num_layers
        self.latent_dim = int(self.mapping.inputs[0].shape[-1])

    def noise(self, count, seed=None):
        import numpy as np

        rng = np.random.default_rng(seed)
        return {f"noise_{i}": rng.standard_normal((count, noise_side(i), noise_side(i), 1)).astype("float32")
                for i in range(self.num_layers)}

    def dlatents(self, latents, truncation_psi=1.0, truncation_cutoff=8, mix_latents=None, mix_from=None):
        """(B, L, D) styles: w per layer, mixed with those of `mix_latents` from layer `mix_from` on,
        truncated towards the tracked average on the first `truncation_cutoff` layers."""
        w = ops.repeat(ops.expand_dims(self.mapping(latents), 1), self.num_layers, axis=1)
        if mix_latents is not None:
            if mix_from is None or not 0 < mix_from < self.num_layers:
                raise ValueError(f"mix_from must be a layer in 1..{self.num_layers - 1}. Received: {mix_from}")
            w2 = ops.repeat(ops.expand_dims(self.mapping(ops.convert_to_tensor(mix_latents)), 1), self.num_layers, axis=1)
            layer = ops.reshape(ops.arange(self.num_layers), (1, self.num_layers, 1))
            w = ops.where(layer < mix_from, w, w2)
        if truncation_psi != 1.0:
            layer = ops.reshape(ops.arange(self.num_layers), (1, self.num_layers, 1))
            psi = ops.where(layer < truncation_cutoff, truncation_psi, 1.0)
            average = self.truncation.average
            w = average + (w - average) * ops.cast(psi, w.dtype)
        return w

    def generate(self, count=None, latents=None, truncation_psi=1.0, truncation_cutoff=8, mix_latents=None,
                 mix_from=None, noise=None, seed=None):
        import numpy as np

        if latents is None:
            latents = np.random.default_rng(seed).standard_normal((count, self.latent_dim)).astype("float32")
        latents = ops.convert_to_tensor(latents)
        count = int(latents.shape[0])
        styles = self.dlatents(latents, truncation_psi, truncation_cutoff, mix_latents, mix_from)
        noise = self.noise(count, None if seed is None else seed + 1) if noise is None else noise
        noise = {k: ops.convert_to_tensor(v) for k, v in noise.items()}
        return self.synthesis({"dlatents": styles, **noise}, training=False)

    def set_lod(self, lod):
        """Progressive growing's level of detail in every blend (0: the full resolution)."""
        for layer in self.synthesis.layers:
            if isinstance(layer, LevelOfDetail):
                layer.lod.assign(float(lod))


def _generator_io(config):
    r, layers = config["resolution"], 2 * int(math.log2(config["resolution"])) - 2
    inputs = {"latent": (None, config["latent_dim"])}
    inputs.update({f"noise_{i}": (None, noise_side(i), noise_side(i), 1) for i in range(layers)})
    return {"inputs": inputs, "outputs": {"images": (None, r, r, config["channels"])}}


def _generator_inputs(config):
    layers = 2 * int(math.log2(config["resolution"])) - 2
    return {"latent": Latent(), **{f"noise_{i}": Latent() for i in range(layers)}}


_GENERATORS = {
    "stylegan": ({}, 26_219_627, "The 1024² FFHQ generator, counted as the reference code (NVlabs/stylegan) "
                 "counts G: mapping 8 · (512·512 + 512) = 2,101,248, synthesis 24,110,720, toRGB at each of the "
                 "nine resolutions 7,659."),
    "stylegan_256": ({"resolution": 256, "name": "stylegan_256"}, 26_086_229,
                     "Our count of the same generator at 256² (the reference code's LSUN configurations): "
                     "mapping 2,101,248, synthesis and toRGB 23,984,981."),
    "stylegan_32": ({"resolution": 32, "fmap_base": 1024, "fmap_max": 256, "latent_dim": 256, "dlatent_dim": 256,
                     "channels": 1, "name": "stylegan_32"}, 3_580_100, ""),
}
for _name, (_config, _params, _source) in _GENERATORS.items():
    register(
        _name,
        family="stylegan",
        builder=StyleGANGenerator,
        paper=PAPER,
        config=_config,
        params=_params,
        params_source=_source or "Our count of a small configuration for 32×32 grey images (fmap_base 1024, "
                                 "at most 256 maps, z and w of 256): mapping 8 · (256·256 + 256), synthesis and "
                                 "toRGB as the reference code builds them.",
        task="generator",
        io=_generator_io,
        test_config={"resolution": 8, "latent_dim": 8, "dlatent_dim": 8, "mapping_layers": 2, "fmap_base": 32,
                     "fmap_max": 8, "channels": 1},
        description="Mapping network, learned constant, per-layer noise and AdaIN styles; truncation, mixing.",
        inputs=_generator_inputs,
        training=lambda config: Recipe(
            optimizer="adam", learning_rate=1e-3, beta_1=0.0, beta_2=0.99, batch_size=32, epochs=10,
            loss="non_saturating", metrics=(), procedure="stylegan",
            options={"discriminator": "stylegan_discriminator", "r1": 10.0, "mixing": 0.9, "progressive": True},
            source="Karras et al. 2018 (the reference code's FFHQ configuration): Adam 0.001, β = (0, 0.99), the "
                   "non-saturating loss with R1 γ = 10, style mixing 0.9, progressive growing; batch 32 here"),
    )

register(
    "stylegan_discriminator",
    family="stylegan",
    builder=StyleGANDiscriminator,
    paper=PAPER,
    params=23_087_249,
    params_source="Our count of the reference code's 1024² discriminator (progressive GANs' D_basic): fromRGB "
                  "at each of the nine resolutions 10,176, the eight blocks 16,517,328, and the 4×4 block (the "
                  "3×3 convolution after minibatch stddev, dense 4·4·512 → 512, the logit) 6,559,745.",
    task="discriminator",
    io=lambda config: {"inputs": {"images": (None, config["resolution"], config["resolution"], config["channels"])},
                       "outputs": {"logits": (None, 1)}},
    test_config={"resolution": 8, "fmap_base": 32, "fmap_max": 8, "channels": 1, "mbstd_group_size": 2},
    description="Progressive GANs' discriminator with minibatch standard deviation.",
    inputs=lambda config: {"images": Image(value_range=(-1.0, 1.0))},
)


class StyleGANTrainer(GAN):
    """StyleGAN's training, in the paper's two configurations. FFHQ (`loss="non_saturating"`): the
    non-saturating loss with the R1 penalty $\\tfrac{\\gamma}{2} \\mathbb{E}_x \\|\\nabla D(x)\\|^2$ on real
    images (γ = 10). CelebA-HQ (`loss="wasserstein_gp"`): the WGAN-GP loss with λ = 10 and progressive
    GANs' drift term $\\epsilon\\,\\mathbb{E}_x[D(x)^2]$, ε = 0.001. Both with style
    mixing regularisation (§3.1: with probability 0.9 a second latent's styles from a random layer on),
    fresh noise images every step, $\\bar w$ tracked with decay 0.995, and progressive growing
    (`progressive=True`: the run is split evenly over the resolutions from 8×8 up, each phase fading the
    new resolution in over its first half; the real images are shown at the same level of detail)."""

    def __init__(self, generator, discriminator, loss="non_saturating", r1=10.0, penalty=10.0, drift=0.001,
                 mixing=0.9, average_decay=0.995, progressive=False, total_steps=1, seed=0, **kwargs):
        if loss not in StyleGANTraining.losses:
            raise ConfigError(f"Unknown StyleGAN loss {loss!r}. Allowed: {', '.join(StyleGANTraining.losses)}.",
                              key="loss", value=loss)
        wgan = loss == "wasserstein_gp"
        super().__init__(generator, discriminator, loss=loss, penalty=penalty if wgan else None, latent="normal",
                         seed=seed, **kwargs)
        self.drift = float(drift) if wgan else 0.0
        self.style = StyleGAN(generator)
        self.latent_dim = self.style.latent_dim
        self.r1, self.mixing, self.average_decay = float(r1), float(mixing), float(average_decay)
        self.progressive, self.total_steps = bool(progressive), max(int(total_steps), 1)
        self.levels = int(math.log2(generator.outputs[0].shape[1]))
        self.batch_multiple = next((layer.group_size for layer in discriminator.layers
                                    if isinstance(layer, MinibatchStandardDeviation)), 1)
        self.blends = [layer for model in (generator, discriminator) for layer in model._flatten_layers()
                       if isinstance(layer, LevelOfDetail)]

    def lod(self):
        """The level of detail at this step: from `levels − 2` (4×4) to 0, a fade then a stable half per
        resolution; 0 throughout without progressive growing."""
        if not self.progressive:
            return ops.convert_to_tensor(0.0)
        phases = self.levels - 2
        t = ops.cast(self.optimizer.iterations, "float32") / self.total_steps * phases
        phase = ops.minimum(ops.floor(t), phases - 1)
        return ops.maximum(phases - phase - ops.minimum((t - phase) * 2.0, 1.0), 0.0)

    def prepare_step(self, real):
        """Set every blend's level of detail, and show the real images at it (a cross-fade between the two
        nearest resolutions, each average-pooled and up-sampled back to full size)."""
        lod = self.lod()
        for layer in self.blends:
            layer.lod.assign(lod)
        if not self.progressive:
            return real
        side = real.shape[1]
        blended = ops.zeros_like(real)
        for k in range(self.levels - 1):  # weight of level k: 1 − |lod − k| where positive
            weight = ops.maximum(1.0 - ops.abs(lod - k), 0.0)
            y = real
            if k:
                y = ops.average_pool(real, 2**k, strides=2**k, padding="valid")
                y = ops.repeat(ops.repeat(y, 2**k, axis=1), 2**k, axis=2)[:, :side, :side]
            blended = blended + weight * y
        return blended

    def fake(self, count, training=True):
        z = keras.random.normal((count, self.latent_dim), seed=self.noise)
        w = self.style.mapping(z, training=training)
        if training:  # w̄ ← mean(w) + β (w̄ − mean(w))
            average = self.style.truncation.average
            average.assign(ops.mean(w, axis=0) + self.average_decay * (average - ops.mean(w, axis=0)))
        layers = self.style.num_layers
        dlatents = ops.repeat(ops.expand_dims(w, 1), layers, axis=1)
        if self.mixing:
            w2 = self.style.mapping(keras.random.normal((count, self.latent_dim), seed=self.noise), training=training)
            mix = keras.random.uniform((), seed=self.noise) < self.mixing
            cutoff = ops.where(mix, ops.floor(keras.random.uniform((), 1.0, float(layers), seed=self.noise)),
                               float(layers))
            index = ops.cast(ops.reshape(ops.arange(layers), (1, layers, 1)), "float32")
            dlatents = ops.where(index < cutoff, dlatents, ops.repeat(ops.expand_dims(w2, 1), layers, axis=1))
        noise = {f"noise_{i}": keras.random.normal((count, noise_side(i), noise_side(i), 1), seed=self.noise)
                 for i in range(layers)}
        return self.style.synthesis({"dlatents": dlatents, **noise}, training=training)

    def regularizer(self, real, fake):
        """R1 on the real images; or, with the WGAN-GP loss, the penalty on interpolates plus the drift."""
        import tensorflow as tf

        if self.loss_name == "wasserstein_gp":
            drift = ops.mean(ops.square(self.discriminator(real, training=True)))
            return self.penalty * self.gradient_penalty(real, fake) + self.drift * drift
        with tf.GradientTape() as tape:
            tape.watch(real)
            scores = self.discriminator(real, training=True)
        gradients = tape.gradient(scores, real)  # the sum of the scores: each image its own gradient
        return 0.5 * self.r1 * ops.mean(ops.sum(ops.square(gradients), axis=(1, 2, 3)))

    def generate(self, count, seed=None):
        return self.style.generate(count, seed=0 if seed is None else seed)


class StyleGANTraining(GANTraining):
    """The GAN procedure with StyleGAN's trainer; `Recipe.options`: `discriminator`, `r1`, `penalty`,
    `drift`, `mixing`, `progressive`. `--loss wasserstein_gp` trains the paper's CelebA-HQ configuration."""

    name = "stylegan"
    losses = ("non_saturating", "wasserstein_gp")
    options = {
        **GANTraining.options,
        "r1": Option(float, "the R1 penalty's weight γ", minimum=0.0),
        "drift": Option(float, "the WGAN-GP configuration's drift weight", minimum=0.0),
        "mixing": Option(float, "the share of images generated with two styles", minimum=0.0, maximum=1.0),
        "progressive": Option(bool, "grow the resolution during training"),
    }

    def trainer(self, spec, overrides, generator, discriminator, recipe, total_steps):
        options = recipe.options
        return StyleGANTrainer(generator, discriminator, loss=recipe.loss, r1=options.get("r1", 10.0),
                               penalty=options.get("penalty", 10.0), drift=options.get("drift", 0.001),
                               mixing=options.get("mixing", 0.9), progressive=options.get("progressive", True),
                               total_steps=total_steps)

    def snapshot(self, trainer, folder, step):
        super().snapshot(trainer, folder, step)
        samples = folder / "samples"
        style = trainer.style
        # truncation and style mixing, from fixed latents: rows ψ = 1, 0.7, 0.5; then z1's coarse styles with
        # z2's fine ones
        import numpy as np

        z = np.random.default_rng(5).standard_normal((8, style.latent_dim)).astype("float32")
        noise = style.noise(8, seed=6)
        rows = [style.generate(latents=z, truncation_psi=psi, noise=noise) for psi in (1.0, 0.7, 0.5)]
        z2 = np.random.default_rng(7).standard_normal((8, style.latent_dim)).astype("float32")
        rows.append(style.generate(latents=z, mix_latents=z2, mix_from=max(1, style.num_layers // 2), noise=noise))
        rows.append(style.generate(latents=z2, noise=noise))
        write_grid(ops.concatenate(rows, axis=0), samples / f"style-step-{step:08d}.png", value_range=(-1.0, 1.0))


register_procedure(StyleGANTraining())
