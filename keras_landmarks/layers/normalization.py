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
