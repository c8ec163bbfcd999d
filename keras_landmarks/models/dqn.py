"""Deep Q-networks: the convolutional action-value function that learned Atari games from pixels.

Mnih, Kavukcuoglu, Silver, Graves, Antonoglou, Wierstra & Riedmiller. "Playing Atari with Deep
Reinforcement Learning." NIPS Deep Learning Workshop 2013. https://arxiv.org/abs/1312.5602

Mnih, Kavukcuoglu, Silver, Rusu, Veness, Bellemare, Graves, Riedmiller, Fidjeland, Ostrovski et al.
"Human-level control through deep reinforcement learning." Nature 518, 529–533 (2015).
https://doi.org/10.1038/nature14236

The network reads the state as the last four preprocessed frames (84 × 84 luminance, stacked as
channels) and returns one value per action in a single pass, $Q(s, \\cdot\\,; \\theta) \\in
\\mathbb{R}^{|A|}$, so acting greedily is one forward pass and an argmax. Learning fits it to the
one-step targets of a target network $\\theta^-$ (Nature, eq. 3):

$$L_i(\\theta_i) = \\mathbb{E}_{(s, a, r, s') \\sim U(D)}\\Big[\\big(r + \\gamma \\max_{a'}
Q(s', a'; \\theta_i^-) - Q(s, a; \\theta_i)\\big)^2\\Big],$$

with the error clipped to [−1, 1] (a Huber loss) and transitions drawn uniformly from a replay memory $D$.

- `dqn_nips` (2013): 16 filters 8×8 stride 4, 32 filters 4×4 stride 2, 256 rectifier units, one linear
  output per action: 680,770 parameters with the 18 actions of the full Atari set.
- `dqn_nature` (2015): 32 8×8/4, 64 4×4/2, 64 3×3/1, 512 units: 1,693,362 with 18 actions (1,686,180
  with Breakout's 4).

Input: `frames` (B, 84, 84, 4), grey values in [0, 255] as the emulator's preprocessing leaves them;
the model scales them to [0, 1] first (the authors' code divides by 255 before the first layer).
Output: `q_values` (B, actions). `actions` sets the action count (the game's minimal set or the full
18); `input_shape` other frame sizes or stack depths.

Deviations: none in the network. Weights and biases start as in the authors' Torch code (its default,
uniform in ±1/√fan_in of the layer).
"""

import keras

from keras_landmarks.config import check_image_input, check_positive, fail
from keras_landmarks.inputs import Observation
from keras_landmarks.registry import Paper, register

PAPER_2013 = Paper(
    title="Playing Atari with Deep Reinforcement Learning",
    authors="Volodymyr Mnih, Koray Kavukcuoglu, David Silver, Alex Graves, Ioannis Antonoglou, Daan Wierstra, "
            "Martin Riedmiller",
    year=2013,
    venue="NIPS Deep Learning Workshop 2013",
    url="https://arxiv.org/abs/1312.5602",
    extends=("neural fitted Q iteration (Riedmiller 2005)", "td-gammon (Tesauro 1995)", "lenet5"),
    adopted_by=("dqn_nature", "double dqn", "prioritized replay", "alphago"),
)
PAPER_2015 = Paper(
    title="Human-level control through deep reinforcement learning",
    authors="Volodymyr Mnih, Koray Kavukcuoglu, David Silver, Andrei A. Rusu, Joel Veness, Marc G. Bellemare, "
            "Alex Graves, Martin Riedmiller, Andreas K. Fidjeland, Georg Ostrovski et al.",
    year=2015,
    venue="Nature 518, 529–533",
    url="https://doi.org/10.1038/nature14236",
    extends=("dqn_nips",),
    adopted_by=("double dqn", "dueling networks", "rainbow", "ape-x / r2d2"),
)
NATURE = ((32, 8, 4), (64, 4, 2), (64, 3, 1))
NIPS = ((16, 8, 4), (32, 4, 2))


def _torch_default(fan_in):
    """Torch's default for a layer's weights and biases alike: U(±1/√fan_in) of its kernel."""
    bound = float(fan_in) ** -0.5
    return keras.initializers.RandomUniform(-bound, bound)


def DQN(*, convolutions: tuple = NATURE, hidden: int = 512, actions: int = 18, input_shape: tuple = (84, 84, 4),
        name: str = "dqn_nature"):
    """`frames` (B, H, W, frames) in [0, 255] → `q_values` (B, actions); `convolutions` is a tuple of
    (filters, kernel size, stride), each followed by a ReLU, then `hidden` ReLU units."""
    check_positive(name, "hidden", hidden)
    check_positive(name, "actions", actions)
    convolutions = tuple(tuple(c) for c in convolutions)
    if not convolutions or any(len(c) != 3 or any(not isinstance(v, int) or v < 1 for v in c) for c in convolutions):
        fail(name, "convolutions", convolutions,
             "a non-empty tuple of (filters, kernel size, stride), positive integers")
    check_image_input(name, tuple(input_shape), [(k, s, "valid") for _, k, s in convolutions], fixed=True)
    frames = keras.Input(shape=tuple(input_shape), name="frames")
    x = keras.layers.Rescaling(1.0 / 255.0, name="scale")(frames)
    for i, (filters, kernel, stride) in enumerate(convolutions, 1):
        fan_in = kernel * kernel * x.shape[-1]
        x = keras.layers.Conv2D(filters, kernel, strides=stride, activation="relu",
                                kernel_initializer=_torch_default(fan_in), bias_initializer=_torch_default(fan_in),
                                name=f"conv_{i}")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(hidden, activation="relu", kernel_initializer=_torch_default(x.shape[-1]),
                           bias_initializer=_torch_default(x.shape[-1]), name="hidden")(x)
    q = keras.layers.Dense(actions, kernel_initializer=_torch_default(hidden), bias_initializer=_torch_default(hidden),
                           name="q_values")(x)
    return keras.Model(frames, q, name=name)


def _io(config):
    return {"inputs": {"frames": (None, *config["input_shape"])}, "outputs": {"q_values": (None, config["actions"])}}


_TEST = {"input_shape": (36, 36, 4), "hidden": 16, "actions": 4}

for _name, _paper, _config, _params, _what in (
        ("dqn_nips", PAPER_2013, {"convolutions": NIPS, "hidden": 256}, 680_770,
         "Our count of the 2013 paper's §4.1 network at 18 actions: conv 8·8·4·16 + 16 = 4,112; conv 4·4·16·32 + 32 "
         "= 8,224; dense 9·9·32·256 + 256 = 663,808; output 256·18 + 18 = 4,626."),
        ("dqn_nature", PAPER_2015, {}, 1_693_362,
         "Our count of the Nature paper's Methods network at 18 actions: convs 8·8·4·32 + 32 = 8,224, 4·4·32·64 + 64 "
         "= 32,832, 3·3·64·64 + 64 = 36,928; dense 7·7·64·512 + 512 = 1,606,144; output 512·18 + 18 = 9,234 "
         "(4 actions: 1,686,180).")):
    register(
        _name,
        family="dqn",
        builder=DQN,
        paper=_paper,
        config={**_config, "name": _name},
        params=_params,
        params_source=_what,
        task="q_function",
        io=_io,
        inputs=lambda config: {"frames": Observation(value_range=(0, 255))},
        test_config=_TEST,
        description="Convolutional Q-network: four stacked 84×84 frames to one value per action.",
    )
