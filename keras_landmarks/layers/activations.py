"""Activation functions of the decade's papers, as functions and as layers.

ReLU, LeakyReLU, ELU and PReLU are Keras's own layers (re-exported by `keras_landmarks.layers`), and
SELU is Keras's `selu` activation: nothing here rewrites them.

Every function is written so that it converts to TFLite built-in ops and to ONNX ops that
onnxruntime runs (tested for each: the converted artifact matches Keras within 1e-5 relative).
"""

import math

import keras
from keras import ops

_SQRT_HALF = 1.0 / math.sqrt(2.0)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


@keras.saving.register_keras_serializable(package="keras_landmarks")
def gelu(x, approximate=False):
    r"""Gaussian error linear unit (Hendrycks & Gimpel 2016), used by BERT and GPT.

    Exact: $\mathrm{GELU}(x) = x\,\Phi(x) = \tfrac{1}{2} x \big(1 + \mathrm{erf}(x/\sqrt{2})\big)$.
    Approximate: $\tfrac{1}{2} x \big(1 + \tanh[\sqrt{2/\pi}\,(x + 0.044715 x^3)]\big)$.

    The exact form is written with `erf`, not `erfc`: Keras's own exact GELU (`erfc`) becomes an ONNX
    `Erfc` node that onnxruntime rejects, while this form becomes TFLite's built-in `GELU` op (the
    converter fuses the pattern) and ONNX `Erf`, both within 5e-7 of the exact function.
    """
    if approximate:
        return 0.5 * x * (1.0 + ops.tanh(_SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)))
    return 0.5 * x * (1.0 + ops.erf(x * _SQRT_HALF))


@keras.saving.register_keras_serializable(package="keras_landmarks")
def gelu_tanh(x):
    """GELU's tanh approximation (GPT-2, and BERT as Google's code and keras-hub compute it)."""
    return gelu(x, approximate=True)


@keras.saving.register_keras_serializable(package="keras_landmarks")
def swish(x, beta=1.0):
    r"""Swish (Ramachandran, Zoph & Le 2017): $x \cdot \sigma(\beta x)$; $\beta = 1$ is SiLU."""
    return x * ops.sigmoid(beta * x)


@keras.saving.register_keras_serializable(package="keras_landmarks")
def softplus(x):
    r"""$\log(1 + e^x)$, written as $\max(x, 0) + \log(1 + e^{-|x|})$: no overflow for large $x$,
    and only ops every runtime has (TFLite's built-ins have no SOFTPLUS)."""
    return ops.maximum(x, 0.0) + ops.log(1.0 + ops.exp(-ops.abs(x)))


@keras.saving.register_keras_serializable(package="keras_landmarks")
def mish(x):
    r"""Mish (Misra 2019): $x \cdot \tanh(\mathrm{softplus}(x))$."""
    return x * ops.tanh(softplus(x))


@keras.saving.register_keras_serializable(package="keras_landmarks")
def softsign(x):
    r"""Softsign (Glorot & Bengio 2010, eq. 3 of Bergstra et al.): $x / (1 + |x|)$."""
    return x / (1.0 + ops.abs(x))


class _Activation(keras.layers.Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def compute_output_shape(self, input_shape):
        return input_shape


@keras.saving.register_keras_serializable(package="keras_landmarks")
class GELU(_Activation):
    """GELU as a layer; `approximate=True` selects the tanh approximation (see `gelu`)."""

    def __init__(self, approximate=False, **kwargs):
        super().__init__(**kwargs)
        self.approximate = bool(approximate)

    def call(self, inputs):
        return gelu(inputs, self.approximate)

    def get_config(self):
        return {**super().get_config(), "approximate": self.approximate}


@keras.saving.register_keras_serializable(package="keras_landmarks")
class Swish(_Activation):
    r"""Swish $x \cdot \sigma(\beta x)$, with $\beta$ fixed or learned (`trainable_beta=True`, one scalar)."""

    def __init__(self, beta=1.0, trainable_beta=False, **kwargs):
        super().__init__(**kwargs)
        self.beta = float(beta)
        self.trainable_beta = bool(trainable_beta)

    def build(self, input_shape):
        if self.trainable_beta:
            self._beta = self.add_weight(name="beta", shape=(), initializer=keras.initializers.Constant(self.beta))

    def call(self, inputs):
        beta = ops.cast(self._beta, inputs.dtype) if self.trainable_beta else self.beta
        return swish(inputs, beta)

    def get_config(self):
        return {**super().get_config(), "beta": self.beta, "trainable_beta": self.trainable_beta}


@keras.saving.register_keras_serializable(package="keras_landmarks")
class Mish(_Activation):
    r"""Mish $x \cdot \tanh(\mathrm{softplus}(x))$ as a layer."""

    def call(self, inputs):
        return mish(inputs)


@keras.saving.register_keras_serializable(package="keras_landmarks")
class SoftSign(_Activation):
    r"""Softsign $x / (1 + |x|)$ as a layer."""

    def call(self, inputs):
        return softsign(inputs)


@keras.saving.register_keras_serializable(package="keras_landmarks")
class Maxout(keras.layers.Layer):
    r"""Maxout unit (Goodfellow, Warde-Farley, Mirza, Courville & Bengio 2013): a dense layer whose each
    output is the largest of `pieces` affine functions of the input,

    $$h_i(x) = \max_{j \in [1, k]} z_{ij}, \qquad z_{ij} = x^\top W_{\cdot ij} + b_{ij}$$

    (eq. 1 of the paper; $k$ = `pieces`). The GAN paper's MNIST discriminator is two maxout layers of
    240 units × 5 pieces. The $k$ pieces of unit $i$ are columns $ik, …, ik + k - 1$ of one kernel of
    `units · pieces` columns: one matrix product, then a max over the last axis of a (…, units, pieces)
    reshape, which converts to TFLite built-ins and ONNX."""

    def __init__(self, units, pieces, kernel_initializer="glorot_uniform", bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        if not isinstance(units, int) or units < 1 or not isinstance(pieces, int) or pieces < 1:
            raise ValueError(f"Maxout takes positive integers units and pieces. Received: units={units!r}, "
                             f"pieces={pieces!r}")
        self.units, self.pieces = units, pieces
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units * self.pieces),
                                      initializer=self.kernel_initializer, name="kernel")
        self.bias = self.add_weight(shape=(self.units * self.pieces,), initializer=self.bias_initializer, name="bias")

    def call(self, inputs):
        z = ops.matmul(inputs, self.kernel) + self.bias  # z_ij for every unit i and piece j
        z = ops.reshape(z, (-1, self.units, self.pieces))  # (B, units, pieces)
        return ops.max(z, axis=-1)  # h_i = max_j z_ij

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def get_config(self):
        return {**super().get_config(), "units": self.units, "pieces": self.pieces,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "bias_initializer": keras.initializers.serialize(self.bias_initializer)}
