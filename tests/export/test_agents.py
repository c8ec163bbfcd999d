"""Agents' quantized artifacts are gated on the action they choose: the same as Keras's on recorded states
(`parity.ActionGate`), the argmax of a DQN's Q-values or of AlphaGo Zero's move probabilities over the legal
moves."""

import numpy as np
import pytest

from keras_landmarks.errors import ExportError
from keras_landmarks.export import convert
from keras_landmarks.export.parity import INT8_AGREEMENT, ActionGate


def _identity_model(width, output="q_values"):
    """A Keras model whose `output` is its `state` input: the gate's Keras side returns the values given."""
    import keras

    inputs = keras.Input((width,), name="state")
    return keras.Model(inputs, {output: keras.layers.Identity(name=output)(inputs)})


def test_the_gate_compares_chosen_actions_within_the_legal_moves():
    values = np.random.default_rng(0).normal(size=(200, 5)).astype("float32")
    model = _identity_model(values.shape[1])
    same = ActionGate(values)(model, lambda feed: {"q_values": feed["state"]})
    assert same["action_agreement"] == 1.0 and same["passed"] and same["states"] == 200
    flipped = values.copy()
    flipped[:4] = -flipped[:4]  # 2% of the states now choose another action
    record = ActionGate(values)(model, lambda feed, f=iter(flipped): {"q_values": next(f)[None]})
    assert record["action_agreement"] == pytest.approx(0.98) and not record["passed"]
    # the best value on an illegal move is never the choice: with each state's best move masked, a runtime
    # that differs from Keras only there agrees on every state
    legal = np.ones_like(values, bool)
    legal[np.arange(200), values.argmax(-1)] = False
    differs = values.copy()
    differs[np.arange(200), values.argmax(-1)] = -99.0
    record = ActionGate(values, legal)(model, lambda feed, d=iter(differs): {"q_values": next(d)[None]})
    assert record["action_agreement"] == 1.0 and record["passed"]
    assert not ActionGate(values)(model, lambda feed, d=iter(differs): {"q_values": next(d)[None]})["passed"]
    with pytest.raises(ValueError, match="3 rows for 200 states"):
        ActionGate(values, legal[:3])


def test_an_int8_dqn_is_gated_on_recorded_atari_states(tmp_path):
    """dqn_nips on 64 frames stacks recorded from Pong (random play), calibrated on 64 others."""
    pytest.importorskip("ale_py")
    from keras_landmarks import rl

    env, observation = rl.make("ALE/Pong-v5", seed=0)
    rng = np.random.default_rng(0)
    frames = []
    for _ in range(128):
        frames.append(observation)
        observation, _, terminated, truncated, _ = env.step(int(rng.integers(env.action_space.n)))
        if terminated or truncated:
            observation, _ = env.reset()
    env.close()
    frames = np.stack(frames)
    manifest = convert("dqn_nips", overrides={"actions": 6}, formats=("tflite",), quantize=("int8",),
                       representative_data=[{"frames": f[None].astype("float32")} for f in frames[::2]],
                       eval_data=(frames[1::2].astype("float32"), None), out=tmp_path, progress=False)
    parity = manifest["artifacts"][0]["parity"]
    assert parity["states"] == 64 and 0.0 <= parity["action_agreement"] <= 1.0
    assert parity["passed"] == (parity["action_agreement"] >= INT8_AGREEMENT)
    assert "same action" in parity["gate"]


def test_an_int8_alphago_zero_network_is_gated_within_the_legal_moves(tmp_path):
    pyspiel = pytest.importorskip("pyspiel")
    from keras_landmarks.rl.mcts import observation_planes

    game = pyspiel.load_game("tic_tac_toe")
    rng = np.random.default_rng(0)
    planes, legal = [], []
    for _ in range(30):  # random games: every position and its legal moves
        state = game.new_initial_state()
        while not state.is_terminal():
            planes.append(observation_planes(state))
            mask = np.zeros(10, bool)
            mask[state.legal_actions()] = True
            legal.append(mask)
            state.apply_action(int(rng.choice(state.legal_actions())))
    planes, legal = np.stack(planes).astype("float32"), np.stack(legal)
    options = dict(overrides={"board_size": 3, "planes": 3, "filters": 8, "blocks": 1}, formats=("tflite",),
                   quantize=("int8",), representative_data=[{"board": p[None]} for p in planes[:50]],
                   out=tmp_path, progress=False)
    # A fresh network's move probabilities are nearly flat, so int8 changes many of its choices: the gate
    # refuses the artifact, naming the agreement, and leaves nothing behind.
    with pytest.raises(ExportError, match=r"action agreement 0\.\d+ .*same action as Keras on >= 0.99"):
        convert("alphago_zero", eval_data=(planes, legal), **options)
    assert not (tmp_path / "alphago_zero").exists()
    # Where every legal move but one is masked, any artifact chooses as Keras does.
    only = np.zeros_like(legal)
    only[np.arange(len(legal)), legal.argmax(-1)] = True
    manifest = convert("alphago_zero", eval_data=(planes, only), **options)
    parity = manifest["artifacts"][0]["parity"]
    assert parity["states"] == len(planes) and parity["action_agreement"] == 1.0 and parity["passed"]
