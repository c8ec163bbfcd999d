"""Recurrent cells the papers need that Keras lacks."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="keras_landmarks")
class OriginalLSTMCell(keras.layers.Layer):
    r"""Hochreiter & Schmidhuber's 1997 LSTM cell: an input gate, an output gate and the constant error
    carousel, with no forget gate (Gers et al. added it in 2000) and no peepholes:

    $$i_t = \sigma(W_i x_t + U_i h_{t-1} + b_i), \quad o_t = \sigma(W_o x_t + U_o h_{t-1} + b_o),$$
    $$c_t = c_{t-1} + i_t \odot \tanh(W_c x_t + U_c h_{t-1} + b_c), \quad h_t = o_t \odot \tanh(c_t).$$

    The cell state only accumulates ($\partial c_t / \partial c_{t-1} = 1$): errors flow back unchanged
    through it. The paper's squashing functions $g$ and $h$ (a sigmoid scaled to [−2, 2] and [−1, 1])
    are tanh here, as in every later LSTM. Use it in `keras.layers.RNN(OriginalLSTMCell(units))`."""

    def __init__(self, units, kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal", **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.recurrent_initializer = keras.initializers.get(recurrent_initializer)
        self.state_size = [self.units, self.units]
        self.output_size = self.units

    def build(self, input_shape):
        n = self.units
        self.kernel = self.add_weight(shape=(input_shape[-1], 3 * n), initializer=self.kernel_initializer,
                                      name="kernel")  # [W_i, W_o, W_c]
        self.recurrent_kernel = self.add_weight(shape=(n, 3 * n), initializer=self.recurrent_initializer,
                                                name="recurrent_kernel")
        self.bias = self.add_weight(shape=(3 * n,), initializer="zeros", name="bias")

    def call(self, x, states, training=False):
        h, c = states
        z = ops.matmul(x, self.kernel) + ops.matmul(h, self.recurrent_kernel) + self.bias
        i, o, g = ops.split(z, 3, axis=-1)
        c = c + ops.sigmoid(i) * ops.tanh(g)  # the constant error carousel: no forget gate
        h = ops.sigmoid(o) * ops.tanh(c)
        return h, [h, c]

    def get_config(self):
        return {**super().get_config(), "units": self.units,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
                "recurrent_initializer": keras.initializers.serialize(self.recurrent_initializer)}


@keras.saving.register_keras_serializable(package="keras_landmarks")
class ProjectedLSTMCell(keras.layers.Layer):
    r"""An LSTM cell with a recurrent projection (LSTMP, Sak et al. 2014), as ELMo's biLM uses it: a
    forget-gate LSTM of `units` cells whose output is projected to `projection_dim`, and that projection
    is what recurs:

    $$[i, f, g, o] = W x_t + U r_{t-1} + b, \quad c_t = \mathrm{clip}(\sigma(f) \odot c_{t-1} + \sigma(i)
    \odot \tanh(g), \pm c_{\max}),$$
    $$r_t = \mathrm{clip}\big(P\,(\sigma(o) \odot \tanh(c_t)), \pm r_{\max}\big).$$

    `cell_clip` and `projection_clip` (ELMo: 3 and 3) bound the state and the output; None disables."""

    def __init__(self, units, projection_dim, cell_clip=None, projection_clip=None, **kwargs):
        super().__init__(**kwargs)
        self.units, self.projection_dim = int(units), int(projection_dim)
        self.cell_clip, self.projection_clip = cell_clip, projection_clip
        self.state_size = [self.projection_dim, self.units]
        self.output_size = self.projection_dim

    def build(self, input_shape):
        n, p = self.units, self.projection_dim
        self.kernel = self.add_weight(shape=(input_shape[-1], 4 * n), initializer="glorot_uniform", name="kernel")
        self.recurrent_kernel = self.add_weight(shape=(p, 4 * n), initializer="orthogonal", name="recurrent_kernel")
        self.bias = self.add_weight(shape=(4 * n,), initializer="zeros", name="bias")
        self.projection = self.add_weight(shape=(n, p), initializer="glorot_uniform", name="projection")

    def call(self, x, states, training=False):
        r, c = states
        z = ops.matmul(x, self.kernel) + ops.matmul(r, self.recurrent_kernel) + self.bias
        i, f, g, o = ops.split(z, 4, axis=-1)
        c = ops.sigmoid(f) * c + ops.sigmoid(i) * ops.tanh(g)
        if self.cell_clip is not None:
            c = ops.clip(c, -self.cell_clip, self.cell_clip)
        r = ops.matmul(ops.sigmoid(o) * ops.tanh(c), self.projection)
        if self.projection_clip is not None:
            r = ops.clip(r, -self.projection_clip, self.projection_clip)
        return r, [r, c]

    def get_config(self):
        return {**super().get_config(), "units": self.units, "projection_dim": self.projection_dim,
                "cell_clip": self.cell_clip, "projection_clip": self.projection_clip}


@keras.saving.register_keras_serializable(package="keras_landmarks")
class ScalarMix(keras.layers.Layer):
    r"""ELMo's task-specific combination of a biLM's layers (eq. 1):
    $\mathrm{ELMo} = \gamma \sum_j s_j h_j$ with $s = \mathrm{softmax}(w)$; input (B, L, T, D) stacked layers."""

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[1],), initializer="zeros", name="w")
        self.gamma = self.add_weight(shape=(), initializer="ones", name="gamma")

    def call(self, layers):
        s = ops.softmax(self.w)
        return self.gamma * ops.einsum("l,bltd->btd", s, layers)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], *input_shape[2:])
