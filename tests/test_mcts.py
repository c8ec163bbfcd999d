"""Monte-Carlo tree search with PUCT on OpenSpiel's tic-tac-toe: it finds a winning move and blocks a
losing one, counts every simulation once (batched, with virtual loss, or not), mixes Dirichlet noise
into the root's priors only, and plays from visit counts at a temperature."""

import numpy as np
import pytest

pyspiel = pytest.importorskip("pyspiel")

from keras_landmarks.rl.mcts import (MCTS, dirichlet_alpha, network_evaluator, observation_planes,  # noqa: E402
                                      rollout_evaluator)


def _position(moves):
    state = pyspiel.load_game("tic_tac_toe").new_initial_state()
    for move in moves:
        state.apply_action(move)
    return state


def _uniform(states):
    return np.full((len(states), 9), 1 / 9), np.zeros(len(states))


@pytest.mark.parametrize("batch", [1, 8])
def test_the_search_wins_and_blocks_from_the_games_results_alone(batch):
    """With uniform priors and no value (only finished games say anything), x takes the open row, and
    o blocks x's: the search's own result."""
    win = _position([0, 3, 1, 4])  # x: 0, 1; o: 3, 4; x to move: 2 wins
    search = MCTS(_uniform, 400, batch=batch, seed=1)
    root = search.run(win, add_noise=False)
    assert np.argmax(search.visit_counts(root, 9)) == 2
    block = _position([0, 4, 1])  # x: 0, 1; o: 4; o to move must take 2
    root = search.run(block, add_noise=False)
    assert np.argmax(search.visit_counts(root, 9)) == 2
    assert search.visit_counts(root, 9).sum() == 400  # each simulation once, virtual losses taken back
    assert all(child.visits == int(child.visits) for child in root.children.values())


def test_noise_changes_the_roots_priors_only_and_keeps_them_a_distribution():
    state = _position([])
    plain = MCTS(_uniform, 1, seed=0).run(state, add_noise=False)
    noisy = MCTS(_uniform, 1, seed=0).run(state, add_noise=True)
    priors = np.array([noisy.children[a].prior for a in range(9)])
    assert np.allclose([plain.children[a].prior for a in range(9)], 1 / 9)
    assert priors.sum() == pytest.approx(1.0) and priors.std() > 0.01 and priors.min() >= 0.75 / 9
    assert dirichlet_alpha(362) == pytest.approx(0.03) and dirichlet_alpha(9) == pytest.approx(0.03 * 362 / 9)


def test_moves_are_played_from_visit_counts_at_a_temperature():
    search = MCTS(rollout_evaluator(0), 100, seed=2)
    root = search.run(_position([4]), add_noise=False)
    counts = search.visit_counts(root, 9)
    assert counts[4] == 0 and counts.sum() == 100  # the centre is taken
    np.testing.assert_allclose(search.policy(root, 9, 1.0), counts / 100)
    greedy = search.policy(root, 9, 0)
    assert greedy[np.argmax(counts)] == 1.0 and greedy.sum() == 1.0
    sharper = search.policy(root, 9, 0.5)
    assert sharper.max() > (counts / 100).max()


def test_a_policy_value_network_evaluates_leaves_in_one_batch():
    import keras_landmarks

    model = keras_landmarks.build("alphago_zero", board_size=3, planes=3, filters=8, blocks=1)
    states = [_position([]), _position([4, 0])]
    assert observation_planes(states[1]).shape == (3, 3, 3)
    priors, values = network_evaluator(model)(states)
    assert priors.shape == (2, 9) and values.shape == (2,) and np.all(np.abs(values) < 1)
    calls = []

    def counting(batch):
        calls.append(len(batch))
        return network_evaluator(model)(batch)

    MCTS(counting, 16, batch=8).run(states[0])
    assert calls[0] == 1 and max(calls[1:]) > 1  # the root, then leaves several at a time
