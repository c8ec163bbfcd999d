"""Normalization layers that the landmark papers need and Keras does not ship.

LayerNormalization, GroupNormalization, BatchNormalization and RMSNormalization come from Keras.
"""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_landmarks")
class LocalResponseNormalization(keras.layers.Layer):
    r"""Local response normalization across channels (Krizhevsky et al. 2012, §3.3).

    $$b^i_{x,y} = a^i_{x,y} \Big/ \Big(k + \alpha \sum_{j=\max(0,\,i-n/2)}^{\min(N-1,\,i+n/2)}
    (a^j_{x,y})^2\Big)^{\beta}$$

    where $a^i_{x,y}$ is the activity of kernel $i$ at position $(x, y)$, $N$ the number of kernels and
    the sum runs over $n$ adjacent kernel maps. The paper's values are $k=2$, $n=5$,
    $\alpha=10^{-4}$, $\beta=0.75$ (the defaults). As in the paper and in `tf.nn.local_response_normalization`,
    $\alpha$ multiplies the plain sum; Caffe and ONNX's `LRN` divide $\alpha$ by $n$ instead.

    Written in `keras.ops` (a padded channel sum of $n$ slices) rather than `tf.nn.lrn`, so that it
    runs on every backend and exports to TFLite built-in ops and to ONNX.

    Args:
        size: $n$, the number of adjacent channels summed over (odd).
        k: $k$, the additive constant.
        alpha: $\alpha$, the scale of the sum of squares.
        beta: $\beta$, the exponent.
    """

    def __init__(self, size=5, k=2.0, alpha=1e-4, beta=0.75, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(size, int) or size < 1 or size % 2 == 0:
            raise ValueError(f"`size` must be a positive odd integer. Received: size={size}")
        if k < 0 or alpha < 0 or beta < 0:
            raise ValueError(f"`k`, `alpha` and `beta` must be >= 0. Received: k={k}, alpha={alpha}, beta={beta}")
        self.size = size
        self.k = float(k)
        self.alpha = float(alpha)
        self.beta = float(beta)
        self.supports_masking = True

    def build(self, input_shape):
        if input_shape[-1] is None:
            raise ValueError(f"The channel dimension of the input must be known. Received: input_shape={input_shape}")
        self.channels = int(input_shape[-1])

    def call(self, inputs):
        x = ops.cast(inputs, "float32")  # the sum of squares overflows float16 easily
        half = self.size // 2
        squares = ops.square(x)
        # Zero-pad the channel axis so each channel sees n neighbours, clipped at the edges as in §3.3.
        padding = [[0, 0]] * (len(x.shape) - 1) + [[half, half]]
        padded = ops.pad(squares, padding)  # (..., N + n - 1)
        window = padded[..., 0 : self.channels]
        for offset in range(1, self.size):
            window = window + padded[..., offset : offset + self.channels]  # Σ_j (a^j)^2, (..., N)
        denominator = ops.power(self.k + self.alpha * window, self.beta)
        return ops.cast(x / denominator, inputs.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "size": self.size, "k": self.k, "alpha": self.alpha, "beta": self.beta}


@keras.saving.register_keras_serializable(package="keras_landmarks")
class InstanceNormalization(keras.layers.GroupNormalization):
    r"""Instance normalization (Ulyanov, Vedaldi & Lempitsky 2016, eq. 2):

    $$y_{tijk} = \gamma_k \frac{x_{tijk} - \mu_{tk}}{\sqrt{\sigma^2_{tk} + \epsilon}} + \beta_k$$

    with $\mu_{tk}$, $\sigma^2_{tk}$ over the spatial positions of sample $t$, channel $k$. This is
    Keras's `GroupNormalization` with one group per channel; the subclass fixes `groups=-1` so the
    intent is named and the configuration cannot drift.
    """

    def __init__(self, epsilon=1e-3, center=True, scale=True, **kwargs):
        kwargs.pop("groups", None)
        super().__init__(groups=-1, epsilon=epsilon, center=center, scale=scale, **kwargs)

    def get_config(self):
        config = super().get_config()
        config.pop("groups", None)
        return config


@keras.saving.register_keras_serializable(package="keras_landmarks")
class AdaptiveInstanceNormalization(keras.layers.Layer):
    r"""Adaptive instance normalization as StyleGAN uses it (Karras, Laine & Aila 2019, eq. 1):

    $$\mathrm{AdaIN}(x_i, y) = y_{s,i} \frac{x_i - \mu(x_i)}{\sigma(x_i)} + y_{b,i}$$

    Called as `layer([x, style])` with `x` (B, H, W, C) and `style` (B, 2C) $= [y_s; y_b]$, the
    output of StyleGAN's learned affine transform "A" of $w$ (a Dense layer in the model). The
    operation itself has no weights. Statistics are per sample and channel, in float32.
    """

    def __init__(self, epsilon=1e-8, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = float(epsilon)

    def build(self, input_shape):
        x_shape, style_shape = input_shape
        if style_shape[-1] != 2 * x_shape[-1]:
            raise ValueError(f"The style must hold a scale and a bias per channel: 2 × {x_shape[-1]}. "
                             f"Received: style shape {style_shape}")

    def call(self, inputs):
        x, style = inputs
        dtype = x.dtype
        x32 = ops.cast(x, "float32")
        axes = tuple(range(1, len(x.shape) - 1))
        mean, variance = ops.moments(x32, axes=axes, keepdims=True)  # μ(x_i), σ²(x_i): (B, 1, 1, C)
        normalized = (x32 - mean) * ops.rsqrt(variance + self.epsilon)
        y_s, y_b = ops.split(ops.cast(style, "float32"), 2, axis=-1)  # (B, C) each
        shape = (-1,) + (1,) * len(axes) + (x.shape[-1],)
        return ops.cast(ops.reshape(y_s, shape) * normalized + ops.reshape(y_b, shape), dtype)

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}
