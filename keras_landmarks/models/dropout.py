"""Dropout networks.

Srivastava, Hinton, Krizhevsky, Sutskever, Salakhutdinov. "Dropout: A Simple Way to Prevent Neural
Networks from Overfitting." JMLR 15, 2014. https://jmlr.org/papers/v15/srivastava14a.html

Each unit is kept with probability $p$ during training (eq. in §4):

$$r^{(l)}_j \\sim \\mathrm{Bernoulli}(p), \\quad \\tilde y^{(l)} = r^{(l)} * y^{(l)}, \\quad
y^{(l+1)}_i = f(w^{(l+1)}_i \\tilde y^{(l)} + b^{(l+1)}_i)$$

and the incoming weight vector of every hidden unit is held inside a ball, $\\|w\\|_2 \\le c$
(max-norm regularization, §5.1). The default is the MNIST network of Table 2 ("Dropout NN + max-norm
constraint", ReLU, 3 layers of 1024 units, 1.06% error): input units kept with $p = 0.8$, hidden units
with $p = 0.5$ (Appendix B.1), $c = 3$ (Appendix A.2: typical values 3–4).

Deviations:
- Keras's Dropout takes the rate of *dropped* units ($1 - p$) and scales kept units by $1/p$ during
  training (inverted dropout) instead of scaling weights by $p$ at test time; the two compute the same
  expected activations.
"""

import keras

from keras_landmarks.config import check_activation, check_rate, fail
from keras_landmarks.models._mlp import MLP_TEST_CONFIG, check_mlp_config, mlp_input, mlp_io
from keras_landmarks.registry import Paper, register

PAPER = Paper(
    title="Dropout: A Simple Way to Prevent Neural Networks from Overfitting",
    authors="Nitish Srivastava, Geoffrey Hinton, Alex Krizhevsky, Ilya Sutskever, Ruslan Salakhutdinov",
    year=2014,
    venue="JMLR 15",
    url="https://jmlr.org/papers/v15/srivastava14a.html",
    extends=("alexnet (dropout in its dense layers, 2012)",),
    adopted_by=("alexnet", "vgg", "inception", "transformer", "bert", "snn (alpha dropout)"),
)


def DropoutMLP(
    *,
    num_layers: int = 3,
    hidden_dim: int = 1024,
    input_dropout: float = 0.2,
    dropout: float = 0.5,
    max_norm: float | None = 3.0,
    activation: str = "relu",
    input_dim: int = 784,
    num_classes: int = 10,
    classifier_activation: str | None = "softmax",
    name: str = "dropout_mlp",
):
    check_mlp_config(name, num_layers=num_layers, hidden_dim=hidden_dim, input_dim=input_dim,
                     num_classes=num_classes, classifier_activation=classifier_activation)
    check_rate(name, "input_dropout", input_dropout)
    check_rate(name, "dropout", dropout)
    check_activation(name, "activation", activation)
    if max_norm is not None and max_norm <= 0:
        fail(name, "max_norm", max_norm, "a positive float or None")
    # ||w_i||_2 <= c over each hidden unit's incoming weights (the kernel's input axis, 0).
    constraint = keras.constraints.MaxNorm(max_norm, axis=0) if max_norm is not None else None

    inputs = mlp_input(input_dim)
    x = keras.layers.Dropout(input_dropout, name="input_dropout")(inputs)  # r^(0) * x
    for i in range(1, num_layers + 1):
        x = keras.layers.Dense(hidden_dim, activation=activation, kernel_constraint=constraint, name=f"dense{i}")(x)
        x = keras.layers.Dropout(dropout, name=f"dense{i}_dropout")(x)  # r^(l) * y^(l)
    outputs = keras.layers.Dense(num_classes, activation=classifier_activation, kernel_constraint=constraint,
                                 name="predictions")(x)
    return keras.Model(inputs, outputs, name=name)


register(
    "dropout_mlp",
    family="dropout",
    builder=DropoutMLP,
    paper=PAPER,
    params=2_913_290,
    params_source="Table 2's MNIST net, 784-1024-1024-1024-10: 803,840 + 2 × 1,049,600 + 10,250.",
    task="image_classification",
    io=mlp_io,
    test_config=MLP_TEST_CONFIG,
    description="Dropout with a max-norm constraint on a fully connected MNIST network.",
)
