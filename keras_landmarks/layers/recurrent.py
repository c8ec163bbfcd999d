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
