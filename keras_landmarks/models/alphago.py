"""AlphaGo's policy and value networks, and AlphaGo Zero's residual policy-value network.

Silver, Huang, Maddison, Guez, Sifre, van den Driessche, Schrittwieser, Antonoglou, Panneershelvam,
Lanctot et al. "Mastering the game of Go with deep neural networks and tree search." Nature 529,
484–489 (2016). https://doi.org/10.1038/nature16961

Silver, Schrittwieser, Simonyan, Antonoglou, Huang, Guez, Hubert, Baker, Lai, Bolton et al. "Mastering
the game of Go without human knowledge." Nature 550, 354–359 (2017). https://doi.org/10.1038/nature24270

AlphaGo (2016, Methods, "Neural network architecture"): the board as 48 binary feature planes (the value
network adds a 49th, the colour to play), zero-padded so every layer keeps the 19 × 19 grid. Layer 1
convolves k = 192 filters of 5 × 5, layers 2–12 k filters of 3 × 3, each followed by a ReLU.
- `alphago_policy` $p_\\sigma(a \\mid s)$: a final 1 × 1 convolution to one filter "with a different
  bias for each position", then a softmax over the 361 points: `policy` (B, 361).
- `alphago_value` $v_\\theta(s)$: the same 12 layers, a 1 × 1 convolution to one filter, a fully
  connected layer of 256 ReLUs and one tanh unit: `value` (B, 1) in [−1, 1].

AlphaGo Zero (2017, Methods, "Neural network architecture"): 17 binary planes (8 positions of own and
opponent stones, and the colour to play); a convolutional block (256 filters 3 × 3, batch normalisation,
ReLU), then 19 (or 39) residual blocks of two such convolutions with the input added before the second
ReLU; two heads:

$$(\\mathbf{p}, v) = f_\\theta(s), \\qquad l = (z - v)^2 - \\boldsymbol{\\pi}^\\top \\log \\mathbf{p}
+ c \\lVert \\theta \\rVert^2 .$$

The policy head (2 filters 1 × 1, BN, ReLU, a fully connected layer to 19² + 1 moves, pass included)
gives `policy` (B, 362) and the value head (1 filter 1 × 1, BN, ReLU, 256 ReLUs, one tanh unit)
`value` (B, 1). Convolutions feeding batch normalisation have no bias (its β is one). `alphago_zero` is
the 20-block network, `alphago_zero_40` the 40-block one of the final system.

`board_size` (N, or (rows, columns)), `planes`, `filters` and `blocks` (`layers` for AlphaGo) are
options, so the same builders serve 9 × 9 Go and smaller games; AlphaGo Zero's `moves` sets the policy's
size for games whose moves are not the points (Connect Four's 7 columns); `logits=True` leaves the
policy's softmax out (for training with a cross-entropy on logits).

Deviations: none in the networks. The counts are the papers' convention: trainable weights with batch
normalisation's γ and β, not its moving statistics.
"""

import keras
from keras import ops

from keras_landmarks.config import check_positive
from keras_landmarks.inputs import BoardPlanes
from keras_landmarks.registry import Paper, register

PAPER_2016 = Paper(
    title="Mastering the game of Go with deep neural networks and tree search",
    authors="David Silver, Aja Huang, Chris J. Maddison, Arthur Guez, Laurent Sifre, George van den Driessche, "
            "Julian Schrittwieser, Ioannis Antonoglou, Veda Panneershelvam, Marc Lanctot et al.",
    year=2016,
    venue="Nature 529, 484–489",
    url="https://doi.org/10.1038/nature16961",
    extends=("dqn_nature", "monte-carlo tree search (Coulom 2006; Kocsis & Szepesvári 2006)",
             "move prediction by convolutional networks (Clark & Storkey 2015; Maddison et al. 2015)"),
    adopted_by=("alphago_zero",),
)
PAPER_2017 = Paper(
    title="Mastering the game of Go without human knowledge",
    authors="David Silver, Julian Schrittwieser, Karen Simonyan, Ioannis Antonoglou, Aja Huang, Arthur Guez, "
            "Thomas Hubert, Lucas Baker, Matthew Lai, Adrian Bolton et al.",
    year=2017,
    venue="Nature 550, 354–359",
    url="https://doi.org/10.1038/nature24270",
    extends=("alphago_policy", "alphago_value", "resnet"),
    adopted_by=("alphazero", "muzero", "leela zero / katago"),
)


@keras.saving.register_keras_serializable(package="keras_landmarks")
class PositionBias(keras.layers.Layer):
    """AlphaGo's policy output: one learned bias per board point, added to the flattened (B, points) map."""

    def build(self, input_shape):
        self.bias = self.add_weight(name="bias", shape=(input_shape[-1],), initializer="zeros")

    def call(self, x):
        return x + ops.cast(self.bias, x.dtype)


def _rows_columns(name, board_size):
    """(rows, columns) of `board_size`: N for an N × N board, or (rows, columns)."""
    if isinstance(board_size, (tuple, list)) and len(board_size) == 2:
        rows, columns = board_size
    else:
        rows = columns = board_size
    for value in (rows, columns):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            from keras_landmarks.config import fail

            fail(name, "board_size", board_size, "a positive integer N (N × N) or (rows, columns)")
    return rows, columns


def _board(name, board_size, planes):
    rows, columns = _rows_columns(name, board_size)
    check_positive(name, "planes", planes)
    return keras.Input((rows, columns, planes), name="board")


def AlphaGo(*, board_size: int | tuple = 19, planes: int = 48, filters: int = 192, layers: int = 12, head: str = "policy",
            logits: bool = False, name: str = "alphago_policy"):
    """AlphaGo's networks: `board` (B, N, N, planes) → `policy` (B, N²) (head="policy") or `value` (B, 1)
    (head="value"); see the module docstring."""
    from keras_landmarks.config import check_choice

    check_positive(name, "filters", filters)
    check_positive(name, "layers", layers)
    check_choice(name, "head", head, ("policy", "value"))
    board = _board(name, board_size, planes)
    x = board
    for i in range(1, layers + 1):  # "same" padding: the zero padding to 23 × 23 (layer 1) and 21 × 21
        x = keras.layers.Conv2D(filters, 5 if i == 1 else 3, padding="same", activation="relu", name=f"conv_{i}")(x)
    if head == "policy":
        x = keras.layers.Conv2D(1, 1, use_bias=False, name="conv_out")(x)
        x = PositionBias(name="position_bias")(keras.layers.Flatten(name="flatten")(x))
        out = keras.layers.Activation(None if logits else "softmax", name="policy")(x)
    else:
        x = keras.layers.Conv2D(1, 1, activation="relu", name=f"conv_{layers + 1}")(x)
        x = keras.layers.Dense(256, activation="relu", name="hidden")(keras.layers.Flatten(name="flatten")(x))
        out = keras.layers.Dense(1, activation="tanh", name="value")(x)
    return keras.Model(board, out, name=name)


def _conv_bn(x, filters, kernel, name, relu=True):
    x = keras.layers.Conv2D(filters, kernel, padding="same", use_bias=False, name=f"{name}_conv")(x)
    x = keras.layers.BatchNormalization(epsilon=1e-5, name=f"{name}_bn")(x)
    return keras.layers.ReLU(name=f"{name}_relu")(x) if relu else x


def AlphaGoZero(*, board_size: int | tuple = 19, planes: int = 17, filters: int = 256, blocks: int = 19,
                moves: int | None = None, logits: bool = False, name: str = "alphago_zero"):
    """`board` (B, rows, columns, planes) → `policy` (B, moves; default rows · columns + 1, the last entry
    passing) and `value` (B, 1)."""
    check_positive(name, "filters", filters)
    rows, columns = _rows_columns(name, board_size)
    if moves is None:
        moves = rows * columns + 1
    check_positive(name, "moves", moves)
    if isinstance(blocks, bool) or not isinstance(blocks, int) or blocks < 0:
        from keras_landmarks.config import fail

        fail(name, "blocks", blocks, "an integer >= 0 (residual blocks after the convolutional block)")
    board = _board(name, board_size, planes)
    x = _conv_bn(board, filters, 3, "stem")
    for i in range(1, blocks + 1):
        y = _conv_bn(x, filters, 3, f"block_{i}_a")
        y = _conv_bn(y, filters, 3, f"block_{i}_b", relu=False)
        x = keras.layers.ReLU(name=f"block_{i}_out")(keras.layers.Add(name=f"block_{i}_add")([x, y]))
    p = _conv_bn(x, 2, 1, "policy_head")
    p = keras.layers.Flatten(name="policy_flat")(p)
    p = keras.layers.Dense(moves, name="policy_logits")(p)
    p = keras.layers.Activation(None if logits else "softmax", name="policy")(p)
    v = _conv_bn(x, 1, 1, "value_head")
    v = keras.layers.Dense(256, activation="relu", name="value_hidden")(keras.layers.Flatten(name="value_flat")(v))
    v = keras.layers.Dense(1, activation="tanh", name="value")(v)
    return keras.Model(board, {"policy": p, "value": v}, name=name)


def _alphago_io(config):
    rows, columns = _rows_columns(config["name"], config["board_size"])
    out = {"policy": (None, rows * columns)} if config["head"] == "policy" else {"value": (None, 1)}
    return {"inputs": {"board": (None, rows, columns, config["planes"])}, "outputs": out}


def _zero_io(config):
    rows, columns = _rows_columns(config["name"], config["board_size"])
    moves = config["moves"] or rows * columns + 1
    return {"inputs": {"board": (None, rows, columns, config["planes"])},
            "outputs": {"policy": (None, moves), "value": (None, 1)}}


def _planes(config):
    return {"board": BoardPlanes()}


_SMALL = {"board_size": 5, "filters": 8}

register(
    "alphago_policy",
    family="alphago",
    builder=AlphaGo,
    paper=PAPER_2016,
    config={"name": "alphago_policy"},
    params=3_882_793,
    params_source="Our count of the Methods' SL policy network with k = 192 (the match version): layer 1 "
                  "5·5·48·192 + 192 = 230,592; layers 2–12 11 × (3·3·192·192 + 192) = 3,651,648; the 1 × 1 output "
                  "convolution 192 and its per-position bias 361.",
    task="policy",
    io=_alphago_io,
    inputs=_planes,
    test_config={**_SMALL, "layers": 3},
    description="SL/RL policy network: 13 convolutional layers over 48 feature planes to a move distribution.",
)
register(
    "alphago_value",
    family="alphago",
    builder=AlphaGo,
    paper=PAPER_2016,
    config={"planes": 49, "head": "value", "name": "alphago_value"},
    params=3_980_162,
    params_source="Our count of the Methods' value network with k = 192: layer 1 5·5·49·192 + 192 = 235,392; "
                  "layers 2–12 11 × (3·3·192·192 + 192) = 3,651,648; the 1 × 1 convolution to one filter 193; "
                  "fully connected 361·256 + 256 = 92,672; the tanh unit 257.",
    task="value",
    io=_alphago_io,
    inputs=_planes,
    test_config={**_SMALL, "layers": 3},
    description="Value network: the policy network's tower, a 1 × 1 convolution, 256 ReLUs and a tanh unit.",
)
for _name, _blocks, _params in (("alphago_zero", 19, 22_827_877), ("alphago_zero_40", 39, 46_441_317)):
    register(
        _name,
        family="alphago_zero",
        builder=AlphaGoZero,
        paper=PAPER_2017,
        config={"blocks": _blocks, "name": _name},
        params=_params,
        params_source=f"Our count of the Methods' network with {_blocks + 1} blocks (trainable, batch normalisation's "
                      f"γ and β included): the convolutional block 3·3·17·256 + 512 = 39,680; {_blocks} residual "
                      "blocks of 2 × (3·3·256·256 + 512) = 1,180,672; policy head 256·2 + 4 + 722·362 + 362 = "
                      "262,242; value head 256 + 2 + 361·256 + 256 + 257 = 93,187.",
        task="policy_value",
        io=_zero_io,
        inputs=_planes,
        test_config={**_SMALL, "blocks": 2},
        description=f"Residual policy-value network ({_blocks + 1} blocks): move probabilities and a value.",
    )
