"""ELMo: deep contextualised word representations from a bidirectional language model.

Peters, Neumann, Iyyer, Gardner, Clark, Lee & Zettlemoyer. "Deep Contextualized Word Representations."
NAACL 2018. https://arxiv.org/abs/1802.05365

Each token is read from its characters (Jozefowicz et al. 2016's character CNN): 16-dimensional
character embeddings, convolutions of widths 1–7 with 32, 32, 64, 128, 256, 512 and 1,024 filters
(2,048 in all), each max-pooled over the characters after a ReLU, two highway layers and a linear
projection to 512: the context-independent $x_k^{LM}$. A forward and a backward language model, each two
LSTMP layers (4,096 cells projected to 512, cell and projection clipped at ±3) with a residual connection
from the first layer to the second, read the sequence in each direction. The representations of token
$k$ are $h_{k,0} = [x_k; x_k]$ and $h_{k,j} = [\\overrightarrow{h}_{k,j}; \\overleftarrow{h}_{k,j}]$ for
$j = 1, 2$, and a task combines them (eq. 1):

$$\\mathrm{ELMo}_k = \\gamma \\sum_{j=0}^{L} s_j h_{k,j}, \\qquad s = \\mathrm{softmax}(w).$$

`layers` (batch, 3, time, 1024) holds $h_{k,0..2}$; `scalar_mix=True` adds eq. 1 as `elmo` (four
more weights, task-specific, so not in the count). The biLM's softmax over the vocabulary belongs to
pre-training and is not part of the model, as in the paper's released weights: 93,600,864 parameters
(character table 262·16, CNN 199,168, highway 16,785,408, projection 1,049,088, four LSTMP layers of
18,890,752).

Deviations:
- Padding tokens are not masked: the backward LM reads them first. Pad sequences at the end and read
  the representations of real tokens only, or batch sequences of equal length.
"""

import keras
from keras import ops

from keras_landmarks.config import check_positive
from keras_landmarks.inputs import TokenIds
from keras_landmarks.layers import ProjectedLSTMCell, ScalarMix
from keras_landmarks.models.highway import Highway
from keras_landmarks.registry import Paper, register

PAPER = Paper(
    title="Deep Contextualized Word Representations",
    authors="Matthew E. Peters, Mark Neumann, Mohit Iyyer, Matt Gardner, Christopher Clark, Kenton Lee, "
            "Luke Zettlemoyer",
    year=2018,
    venue="NAACL 2018",
    url="https://arxiv.org/abs/1802.05365",
    extends=("character-aware language models (Jozefowicz et al. 2016)", "lstm_lm", "highway"),
    adopted_by=("bert", "gpt", "contextual embeddings"),
)
FILTERS = ((1, 32), (2, 32), (3, 64), (4, 128), (5, 256), (6, 512), (7, 1024))


@keras.saving.register_keras_serializable(package="keras_landmarks")
class TokenCharacterCNN(keras.layers.Layer):
    """Per token: character embeddings (B, T, C, e) → for each (width, filters), a convolution over the
    characters, ReLU and max over them → concatenated (B, T, Σ filters)."""

    def __init__(self, filters=FILTERS, **kwargs):
        super().__init__(**kwargs)
        self.filters = tuple(tuple(int(v) for v in f) for f in filters)
        self.convolutions = [keras.layers.Conv1D(n, width, activation="relu", name=f"conv_{width}")
                             for width, n in self.filters]

    def build(self, input_shape):
        flat = (None, input_shape[2], input_shape[3])
        for conv in self.convolutions:
            conv.build(flat)

    def call(self, chars):
        shape = ops.shape(chars)
        flat = ops.reshape(chars, (-1, chars.shape[2], chars.shape[3]))  # (B·T, C, e)
        pooled = ops.concatenate([ops.max(conv(flat), axis=1) for conv in self.convolutions], axis=-1)
        return ops.reshape(pooled, (shape[0], shape[1], pooled.shape[-1]))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[1], sum(n for _, n in self.filters))

    def get_config(self):
        return {**super().get_config(), "filters": [list(f) for f in self.filters]}


@keras.saving.register_keras_serializable(package="keras_landmarks")
class TimeReversal(keras.layers.Layer):
    """Reverses (batch, time, ...) along time: puts a backward RNN's outputs back in order."""

    def call(self, x):
        return ops.flip(x, axis=1)

    def compute_output_shape(self, input_shape):
        return input_shape


@keras.saving.register_keras_serializable(package="keras_landmarks")
class StackLayers(keras.layers.Layer):
    """[h_0, …, h_L] each (batch, time, D) → (batch, L + 1, time, D)."""

    def call(self, layers):
        return ops.stack(layers, axis=1)

    def compute_output_shape(self, input_shapes):
        first = input_shapes[0]
        return (first[0], len(input_shapes), *first[1:])


def _lstmp(x, units, projection_dim, clip, backwards, name):
    """One direction's LSTMP layer over the sequence (the backward one's outputs put back in order)."""
    cell = ProjectedLSTMCell(units, projection_dim, clip, clip)
    y = keras.layers.RNN(cell, return_sequences=True, go_backwards=backwards, name=name)(x)
    return TimeReversal(name=f"{name}_in_order")(y) if backwards else y


def ELMo(*, characters: int = 262, max_characters: int = 50, char_dim: int = 16, filters=FILTERS,
         highway_layers: int = 2, projection_dim: int = 512, lstm_units: int = 4096, lstm_layers: int = 2,
         clip: float = 3.0, scalar_mix: bool = False, name: str = "elmo"):
    """`char_ids` (batch, time, max_characters) → `layers` (batch, 1 + lstm_layers, time, 2·projection_dim)."""
    for key, value in (("characters", characters), ("max_characters", max_characters), ("char_dim", char_dim),
                       ("projection_dim", projection_dim), ("lstm_units", lstm_units), ("lstm_layers", lstm_layers)):
        check_positive(name, key, value)
    chars = keras.Input(shape=(None, max_characters), dtype="int32", name="char_ids")
    x = keras.layers.Embedding(characters, char_dim, name="char_embedding")(chars)  # (B, T, C, 16)
    x = TokenCharacterCNN(filters, name="char_cnn")(x)
    for i in range(highway_layers):
        x = Highway(activation="relu", gate_bias=0.0, name=f"highway_{i + 1}")(x)
    token = keras.layers.Dense(projection_dim, name="projection")(x)  # x_k^LM
    layers = [keras.layers.Concatenate(name="layer_0")([token, token])]
    forward = backward = token
    for j in range(1, lstm_layers + 1):
        f = _lstmp(forward, lstm_units, projection_dim, clip, False, f"lstm_{j}_forward")
        b = _lstmp(backward, lstm_units, projection_dim, clip, True, f"lstm_{j}_backward")
        if j > 1:  # the residual connection from each LSTM layer's input to its output, after the first
            f = keras.layers.Add(name=f"lstm_{j}_forward_residual")([f, forward])
            b = keras.layers.Add(name=f"lstm_{j}_backward_residual")([b, backward])
        forward, backward = f, b
        layers.append(keras.layers.Concatenate(name=f"layer_{j}")([forward, backward]))
    stacked = StackLayers(name="layers")(layers)
    outputs = {"layers": stacked}
    if scalar_mix:
        outputs["elmo"] = ScalarMix(name="elmo")(stacked)
    return keras.Model(chars, outputs, name=name)


def _io(config):
    width = 2 * config["projection_dim"]
    outputs = {"layers": (None, 1 + config["lstm_layers"], None, width)}
    if config["scalar_mix"]:
        outputs["elmo"] = (None, None, width)
    return {"inputs": {"char_ids": (None, None, config["max_characters"])}, "outputs": outputs}


register(
    "elmo",
    family="elmo",
    builder=ELMo,
    paper=PAPER,
    params=93_600_864,
    params_source="Our count of the paper's released model (the biLM without its softmax): characters 262·16 "
                  "= 4,192; CNN Σ w·16·f + f = 199,168; two highway layers 2 · 2(2048² + 2048) = 16,785,408; "
                  "projection 2048·512 + 512 = 1,049,088; four LSTMP layers (2 directions × 2) of "
                  "4·4096·(512 + 512) + 4·4096 + 4096·512 = 18,890,752.",
    task="text_encoder",
    io=_io,
    inputs=lambda config: {"char_ids": TokenIds(config["characters"])},
    test_config={"characters": 30, "max_characters": 7, "char_dim": 4, "filters": ((1, 4), (2, 4), (3, 8)),
                 "projection_dim": 6, "lstm_units": 8},
    description="Character CNN, highway layers and a two-layer biLM of LSTMPs; layers mixed per task.",
)
