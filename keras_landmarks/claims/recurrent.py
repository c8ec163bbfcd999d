"""Hochreiter & Schmidhuber's claim: the LSTM bridges long time lags that a plain recurrent net cannot
(their Experiment 4, the adding problem)."""

import numpy as np

from keras_landmarks.claims import Claim, register_claim
from keras_landmarks.claims.generative import _pyplot, _spread

TOLERANCE = 0.04  # the paper's criterion: a sequence is right when the absolute error at its end is below it


def adding_problem(count, length, seed):
    """(inputs (count, length, 2), targets (count,)): Experiment 4's sequences. The first component is a
    value in [−1, 1]; the second marks two of them (one among the first ten, one in the first half),
    with −1 at the first and last steps when no value is marked there; the target is
    0.5 + (X₁ + X₂) / 4."""
    rng = np.random.default_rng(seed)
    values = rng.uniform(-1.0, 1.0, (count, length))
    marks = np.zeros((count, length))
    rows = np.arange(count)
    first = rng.integers(0, 10, count)
    second = rng.integers(0, length // 2 - 1, count)
    second = np.where(second >= first, second + 1, second)  # two different positions
    marks[rows, first] = 1.0
    marks[rows, second] = 1.0
    marks[:, 0] = np.where(marks[:, 0] == 1.0, 1.0, -1.0)
    marks[:, -1] = -1.0
    targets = 0.5 + (values[rows, first] + values[rows, second]) / 4.0
    return np.stack([values, marks], axis=-1).astype(np.float32), targets.astype(np.float32)


def recurrent_net(kind, units):
    """One recurrent layer of `units` (the 1997 LSTM cell, without forget gate, or a tanh SimpleRNN) and a
    linear output read at the last step."""
    import keras

    from keras_landmarks.layers import OriginalLSTMCell

    inputs = keras.Input((None, 2), name="sequence")
    if kind == "lstm":
        x = keras.layers.RNN(OriginalLSTMCell(units), name="lstm_1997")(inputs)
    else:
        x = keras.layers.SimpleRNN(units, name="simple_rnn")(inputs)
    return keras.Model(inputs, keras.layers.Dense(1, name="sum")(x)[:, 0], name=kind)


def _train(kind, units, length, steps, batch, seed, test):
    import keras

    keras.utils.set_random_seed(seed)
    net = recurrent_net(kind, units)
    net.compile(optimizer=keras.optimizers.Adam(1e-3, global_clipnorm=1.0), loss="mse")
    x, y = adding_problem(steps * batch, length, 1000 + seed)  # fresh sequences at every step, as the paper
    curve = []
    chunk = max(1, steps // 10)
    for start in range(0, steps, chunk):
        part = slice(start * batch, min(steps, start + chunk) * batch)
        net.fit(x[part], y[part], batch_size=batch, epochs=1, shuffle=False, verbose=0)
        error = np.abs(net.predict(test[0], batch_size=512, verbose=0) - test[1])
        curve.append([min(steps, start + chunk), float(np.mean(error < TOLERANCE)), float(np.mean(error ** 2))])
    return curve


def lstm_adding(folder, quick, seeds, progress):
    length, steps, units = (20, 300, 8) if quick else (100, 5000, 8)
    batch = 32
    test = adding_problem(2560, length, 99)  # the paper's 2,560 test sequences
    baseline = float(np.mean(np.abs(0.5 - test[1]) < TOLERANCE))  # always answering 0.5
    runs = {"lstm": [], "simple_rnn": []}
    for kind in runs:
        for seed in seeds:
            curve = _train(kind, units, length, steps, batch, seed, test)
            runs[kind].append(curve)
            if progress:
                print(f"lstm-adding: {kind} seed {seed}: {100 * curve[-1][1]:.1f}% of the test sequences right, "
                      f"MSE {curve[-1][2]:.4f}", flush=True)
    final = {k: [c[-1][1] for c in v] for k, v in runs.items()}
    held = min(final["lstm"]) >= 0.9 and max(final["simple_rnn"]) < 0.5

    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(6, 4.2))
    for kind, color in (("lstm", "tab:red"), ("simple_rnn", "tab:blue")):
        for i, curve in enumerate(runs[kind]):
            curve = np.asarray(curve)
            axis.plot(curve[:, 0], 100 * curve[:, 1], color=color, alpha=0.8,
                      label=("LSTM (1997 cell)" if kind == "lstm" else "SimpleRNN") if i == 0 else None)
    axis.axhline(100 * baseline, color="k", ls=":", label="always 0.5")
    axis.set(xlabel="training step (32 sequences each)", ylabel="test sequences right (%)",
             title=f"adding problem, T = {length}", ylim=(0, 100))
    axis.legend()
    figure.tight_layout()
    figure.savefig(folder / "figure.png", dpi=100)
    plt.close(figure)
    summary = (f"after {steps:,} steps at T = {length}, the share of the 2,560 test sequences with error below "
               f"{TOLERANCE}: LSTM {_spread(final['lstm'])}, SimpleRNN {_spread(final['simple_rnn'])} (always "
               f"answering 0.5: {baseline:.2f}).")
    return {"numbers": {"length": length, "steps": steps, "units": units, "baseline": baseline,
                        "curves": runs, "final": final}, "held": bool(held), "summary": summary}


register_claim(Claim(
    name="lstm-adding",
    paper="Hochreiter & Schmidhuber (1997)",
    statement="LSTM learns to store and add two marked values across a long time lag (the adding problem, "
              "their Experiment 4, T = 100), which a conventional recurrent network fails to learn.",
    protocol="Experiment 4's sequences of (value in [−1, 1], marker) pairs of length T = 100, target "
             "0.5 + (X₁ + X₂)/4, fresh sequences at every step; one recurrent layer of 8 units, the 1997 LSTM "
             "cell without forget gate (`keras_landmarks.layers.OriginalLSTMCell`) or a tanh SimpleRNN, and a "
             "linear output at the last step; mean squared error, Adam 10⁻³ with gradients clipped at norm 1 "
             "(the paper: SGD at 0.5) for 5,000 steps of 32 sequences; a test sequence is right when its error "
             "is below 0.04 (the paper's criterion), on 2,560 fixed test sequences.",
    rule="held if every LSTM seed gets at least 90% of the test sequences right and every SimpleRNN seed "
         "fewer than 50%.",
    run=lstm_adding,
))
