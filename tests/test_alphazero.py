"""AlphaGo Zero's pipeline on tic-tac-toe: self-play records (s, π, z) with z from the mover's view, the
loss is the paper's, a match scores wins and half the draws, and an iteration trains and evaluates."""

import dataclasses

import numpy as np
import pytest

pyspiel = pytest.importorskip("pyspiel")

import keras_landmarks  # noqa: E402
from keras_landmarks.rl import alphazero  # noqa: E402

SMALL = dataclasses.replace(alphazero.TIC_TAC_TOE, simulations=8, games=2, train_steps=3, batch_size=8,
                            evaluation_games=2)


def _net(seed=0):
    import keras

    keras.utils.set_random_seed(seed)
    return keras_landmarks.build("alphago_zero", board_size=3, planes=3, filters=8, blocks=1)


def test_self_play_records_positions_with_search_probabilities_and_results():
    game = pyspiel.load_game("tic_tac_toe")
    positions = alphazero.self_play(_net(), game, SMALL, seed=3)
    assert 5 <= len(positions) <= 9
    results = [z for _, _, z in positions]
    assert set(results) <= {-1.0, 0.0, 1.0}
    if results[0] != 0:  # the players alternate: consecutive positions see the result from opposite sides
        assert all(a == -b for a, b in zip(results, results[1:]))
    for planes, pi, _ in positions:
        assert planes.shape == (3, 3, 3) and pi.shape == (10,) and pi[9] == 0  # no pass in tic-tac-toe
        assert pi.sum() == pytest.approx(1.0)
        empty = planes[..., 0].ravel() == 1  # OpenSpiel's first plane: the empty points
        assert np.all(pi[:9][~empty] == 0)  # a taken point never gets search probability
    assert len(positions) == 9 - int(positions[-1][0][..., 0].sum()) + 1  # one position per move played


def test_the_loss_is_the_papers():
    """(z − v)² − πᵀ log p + c‖θ‖², checked against numpy."""
    net = _net(1)
    rng = np.random.default_rng(0)
    planes = (rng.random((4, 3, 3, 3)) < 0.3).astype("float32")
    pi = rng.dirichlet(np.ones(10), 4).astype("float32")
    z = np.array([1, -1, 0, 1], "float32")
    loss, value, policy = (float(v) for v in alphazero.zero_loss(net, planes, pi, z, 1e-3))
    out = net(planes, training=True)
    v, p = np.asarray(out["value"])[:, 0], np.asarray(out["policy"])
    assert value == pytest.approx(np.mean((z - v) ** 2), rel=1e-5)
    assert policy == pytest.approx(np.mean(-(pi * np.log(p)).sum(-1)), rel=1e-5)
    kernels = sum(float((np.asarray(w) ** 2).sum()) for w in net.trainable_weights if len(w.shape) > 1)
    assert loss == pytest.approx(value + policy + 1e-3 * kernels, rel=1e-5)


def test_a_match_scores_wins_and_half_the_draws():
    game = pyspiel.load_game("tic_tac_toe")
    net = _net(2)
    played = []
    score = alphazero.play_match(net, net, game, 4, dataclasses.replace(SMALL, evaluation_temperature_moves=0),
                                 record=played)
    assert score == 0.5  # the same player on both sides, colours alternating: each side wins what it loses
    assert played[0] == played[2] and played[1] == played[3]  # noise-free: one game per colour, repeated


def test_evaluation_games_differ_when_their_first_moves_follow_the_visit_counts():
    game = pyspiel.load_game("tic_tac_toe")
    net = _net(2)
    played = []
    alphazero.play_match(net, net, game, 8, dataclasses.replace(SMALL, evaluation_temperature_moves=2),
                         record=played)
    assert len(played) == 8 and len({tuple(moves[:2]) for moves in played}) > 2
    with pytest.raises(Exception, match="evaluation_temperature_moves=-1"):
        dataclasses.replace(SMALL, evaluation_temperature_moves=-1).check()


def test_an_iteration_plays_trains_and_evaluates():
    result = alphazero.train_zero(_net(3), "tic_tac_toe", 1, config=SMALL, progress=False)
    record = result["history"][0]
    assert record["positions"] >= 2 * 5 and np.isfinite(record["loss"]) and 0 <= record["score_against_best"] <= 1
    assert record["promoted"] == (record["score_against_best"] >= 0.55)
