"""The layers of progressive GANs and StyleGAN that Keras does not ship.

Karras, Aila, Laine & Lehtinen. "Progressive Growing of GANs for Improved Quality, Stability, and
Variation." ICLR 2018 (pixel norm, equalised learning rate, minibatch standard deviation), and
Karras, Laine & Aila. "A Style-Based Generator Architecture for Generative Adversarial Networks."
CVPR 2019 (noise inputs, blurred resampling, the mapping network's learning-rate multiplier).

All are written in `keras.ops` and convert to TFLite built-in ops and ONNX.
"""

import math

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_landmarks")
class PixelNormalization(keras.layers.Layer):
    r"""Pixelwise feature vector normalization (Karras et al. 2018, §4.2):

    $$b_{x,y} = a_{x,y} \Big/ \sqrt{\tfrac{1}{N} \textstyle\sum_{j=0}^{N-1} (a^j_{x,y})^2 + \epsilon}$$

    over the $N$ channels of each position (or of each vector: StyleGAN normalises $z$ with it)."""

    def __init__(self, epsilon=1e-8, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = float(epsilon)

    def call(self, x):
        return x * ops.rsqrt(ops.mean(ops.square(x), axis=-1, keepdims=True) + self.epsilon)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}


class _Equalized(keras.layers.Layer):
    """Equalized learning rate (Karras et al. 2018, §4.1): weights drawn from N(0, 1/λ) and scaled at run
    time by $c = \\text{gain} \\cdot \\lambda / \\sqrt{\\text{fan-in}}$ (He's constant; λ the
    learning-rate multiplier, 0.01 in StyleGAN's mapping network), so that Adam's per-weight step is
    the same for every layer. The bias is scaled by λ."""

    def __init__(self, gain=math.sqrt(2.0), lr_multiplier=1.0, use_bias=True, bias_initializer=0.0,
                 activation=None, **kwargs):
        super().__init__(**kwargs)
        if gain <= 0 or lr_multiplier <= 0:
            raise ValueError(f"gain and lr_multiplier must be > 0. Received: gain={gain}, lr_multiplier={lr_multiplier}")
        self.gain, self.lr_multiplier = float(gain), float(lr_multiplier)
        self.use_bias = bool(use_bias)
        # a number, or one value per unit (StyleGAN's style starts at scale 1, shift 0)
        self.bias_initializer = ([float(v) for v in bias_initializer] if isinstance(bias_initializer, (list, tuple))
                                 else float(bias_initializer))
        self.activation = keras.activations.get(activation)

    def _weights(self, shape, fan_in, units):
        self.kernel = self.add_weight(shape=shape, name="kernel",
                                      initializer=keras.initializers.RandomNormal(stddev=1.0 / self.lr_multiplier))
        self.scale = self.gain * self.lr_multiplier / math.sqrt(fan_in)
        if self.use_bias:
            values = self.bias_initializer
            if isinstance(values, list) and len(values) != units:
                raise ValueError(f"bias_initializer has {len(values)} values for {units} units.")
            scaled = ops.convert_to_tensor(values, "float32") / self.lr_multiplier

            def initializer(shape, dtype=None):
                return ops.cast(ops.broadcast_to(scaled, shape), dtype or "float32")

            self.bias = self.add_weight(shape=(units,), name="bias", initializer=initializer)

    def _finish(self, y):
        if self.use_bias:
            y = y + self.bias * self.lr_multiplier
        return self.activation(y)

    def get_config(self):
        return {**super().get_config(), "gain": self.gain, "lr_multiplier": self.lr_multiplier,
                "use_bias": self.use_bias, "bias_initializer": self.bias_initializer,
                "activation": keras.activations.serialize(self.activation)}


@keras.saving.register_keras_serializable(package="keras_landmarks")
class EqualizedDense(_Equalized):
    r"""$y = \phi(c\,W x + \lambda b)$ with $W \sim \mathcal{N}(0, 1/\lambda^2)$ (see `_Equalized`)."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)

    def build(self, input_shape):
        self._weights((input_shape[-1], self.units), input_shape[-1], self.units)

    def call(self, x):
        return self._finish(ops.matmul(x, self.kernel * self.scale))

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def get_config(self):
        return {**super().get_config(), "units": self.units}


@keras.saving.register_keras_serializable(package="keras_landmarks")
class EqualizedConv2D(_Equalized):
    r"""A 'same'-padded, stride-1 convolution with the equalized learning rate (see `_Equalized`)."""

    def __init__(self, filters, kernel_size, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.kernel_size = int(filters), int(kernel_size)

    def build(self, input_shape):
        k, channels = self.kernel_size, input_shape[-1]
        self._weights((k, k, channels, self.filters), k * k * channels, self.filters)

    def call(self, x):
        return self._finish(ops.conv(x, self.kernel * self.scale, strides=1, padding="same"))

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.filters)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size}


@keras.saving.register_keras_serializable(package="keras_landmarks")
class NoiseInjection(keras.layers.Layer):
    r"""StyleGAN's per-layer noise (§2, "B"): $x + s \odot n$, $n$ a single-channel (B, H, W, 1) noise
    image and $s$ a learned per-channel scale, initialised to 0. The noise is an input, so a caller can
    fix it (deterministic export and parity) or draw it."""

    def build(self, input_shape):
        x_shape, _ = input_shape
        self.strength = self.add_weight(shape=(x_shape[-1],), initializer="zeros", name="strength")

    def call(self, inputs):
        x, noise = inputs
        return x + noise * self.strength  # (B, H, W, 1) · (C,) broadcasts per channel

    def compute_output_shape(self, input_shape):
        return input_shape[0]


@keras.saving.register_keras_serializable(package="keras_landmarks")
class Blur2D(keras.layers.Layer):
    r"""A normalised separable binomial low-pass filter, $[1, 2, 1]^\top [1, 2, 1] / 16$, applied per
    channel with 'same' padding: StyleGAN's blur after each up-sampling and before each down-sampling
    (Zhang 2019's anti-aliasing; §2 and Appendix C of the paper)."""

    def __init__(self, kernel=(1.0, 2.0, 1.0), **kwargs):
        super().__init__(**kwargs)
        self.kernel = tuple(float(v) for v in kernel)

    def build(self, input_shape):
        import numpy as np

        taps = np.asarray(self.kernel, np.float32)
        square = np.outer(taps, taps) / np.sum(np.outer(taps, taps))
        self._filter = np.tile(square[:, :, None, None], (1, 1, input_shape[-1], 1))  # (k, k, C, 1) depthwise

    def call(self, x):
        # A constant of the graph (a NumPy array, not a captured tensor), so every exporter embeds it.
        kernel = ops.cast(ops.convert_to_tensor(self._filter), x.dtype)
        return ops.depthwise_conv(x, kernel, strides=1, padding="same")

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "kernel": list(self.kernel)}


@keras.saving.register_keras_serializable(package="keras_landmarks")
class MinibatchStandardDeviation(keras.layers.Layer):
    r"""Minibatch standard deviation (Karras et al. 2018, §3): within each group of `group_size`
    samples, the standard deviation of every feature at every position, averaged over features and
    positions into one number per group, appended to each of its samples as one more constant
    feature map. The batch must be divisible by the group size (or smaller than it: one group)."""

    def __init__(self, group_size=4, epsilon=1e-8, **kwargs):
        super().__init__(**kwargs)
        self.group_size, self.epsilon = int(group_size), float(epsilon)

    def call(self, x):
        batch = ops.shape(x)[0]
        height, width, channels = x.shape[1], x.shape[2], x.shape[3]
        group = ops.minimum(self.group_size, batch)
        y = ops.reshape(x, (group, -1, height, width, channels))  # (G, M, H, W, C): sample g·M + m
        y = y - ops.mean(y, axis=0, keepdims=True)
        y = ops.sqrt(ops.mean(ops.square(y), axis=0) + self.epsilon)  # (M, H, W, C): σ over each group
        y = ops.mean(y, axis=(1, 2, 3), keepdims=True)  # (M, 1, 1, 1)
        y = ops.tile(y, (group, height, width, 1))  # (B, H, W, 1): sample i gets group i mod M
        return ops.concatenate([x, ops.cast(y, x.dtype)], axis=-1)

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], input_shape[-1] + 1)

    def get_config(self):
        return {**super().get_config(), "group_size": self.group_size, "epsilon": self.epsilon}
