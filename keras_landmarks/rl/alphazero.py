"""AlphaGo Zero's reinforcement learning: self-play with tree search, training, evaluation (Silver et al.
2017, Methods, "Self-play training pipeline").

Each iteration the best network plays games against itself, each move chosen by `MCTS` (Dirichlet
noise at the root; moves drawn from the visit counts at τ = 1 for the first `temperature_moves`, then
the most visited). Every position is stored as $(s_t, \\pi_t, z_t)$: the search's visit distribution
and the game's result from the view of the player to move. A candidate network is trained on
minibatches drawn from the most recent positions with

$$l = (z - v)^2 - \\boldsymbol{\\pi}^\\top \\log \\mathbf{p} + c\\,\\lVert\\theta\\rVert^2,$$

SGD with momentum 0.9, and then plays the best network (no noise, the most visited move): it becomes
the best when it scores at least 55% (wins, and half the draws).

`ZeroConfig()` holds the paper's values (1,600 simulations, 30 moves at τ = 1, minibatches of 2,048,
the last 500,000 games, c = 10⁻⁴, 400 evaluation games); `TIC_TAC_TOE` the small settings for
tic-tac-toe. The games' rules are OpenSpiel's.

Deviations: the stored π is the visit distribution at τ = 1 for every move (the paper stores it at the
move's temperature, which after move 30 is one-hot); positions are not augmented by the board's
symmetries; the window counts positions, not games. `TIC_TAC_TOE` draws the first two moves of each
evaluation game from the visit counts (`evaluation_temperature_moves`; the paper's matches play the
most visited move throughout): otherwise its 20 games are two games repeated.
"""

import dataclasses
import time

import keras
import numpy as np
from keras import ops

from keras_landmarks.errors import ConfigError
from keras_landmarks.rl.mcts import MCTS, network_evaluator, observation_planes


@dataclasses.dataclass(frozen=True)
class ZeroConfig:
    simulations: int = 1_600
    c_puct: float = 1.25
    search_batch: int = 8  # leaves evaluated together (virtual loss)
    temperature_moves: int = 30
    games: int = 25_000  # self-play games per iteration
    train_steps: int = 1_000  # minibatches per iteration
    batch_size: int = 2_048
    window: int = 500_000 * 200  # positions kept (the paper: the last 500,000 games)
    learning_rate: float = 0.01
    momentum: float = 0.9
    l2: float = 1e-4
    evaluation_games: int = 400
    win_threshold: float = 0.55
    # evaluation moves drawn from the visit counts at τ = 1 before the most visited is played: without them a
    # small game's match, noise-free, repeats the same two games (one per colour)
    evaluation_temperature_moves: int = 0

    def check(self):
        for key in ("simulations", "search_batch", "games", "train_steps", "batch_size", "window",
                    "evaluation_games"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"Invalid AlphaGo Zero option {key}={value!r}: a positive integer.", key=key,
                                  value=value)
        if (isinstance(self.evaluation_temperature_moves, bool) or not isinstance(self.evaluation_temperature_moves, int)
                or self.evaluation_temperature_moves < 0):
            raise ConfigError("Invalid AlphaGo Zero option evaluation_temperature_moves="
                              f"{self.evaluation_temperature_moves!r}: an integer >= 0.",
                              key="evaluation_temperature_moves", value=self.evaluation_temperature_moves)
        if not 0.0 <= self.win_threshold <= 1.0:
            raise ConfigError(f"Invalid AlphaGo Zero option win_threshold={self.win_threshold!r}: a number in [0, 1].",
                              key="win_threshold", value=self.win_threshold)
        return self


PAPER = ZeroConfig()
TIC_TAC_TOE = ZeroConfig(simulations=50, temperature_moves=3, games=30, train_steps=100, batch_size=64, window=5_000,
                         learning_rate=0.02, evaluation_games=20, evaluation_temperature_moves=2)


def _search(network, config, seed):
    return MCTS(network_evaluator(network), config.simulations, c_puct=config.c_puct, batch=config.search_batch,
                seed=seed)


def self_play(network, game, config, seed=0):
    """One game of `network` against itself: [(planes, π, z)] for each position, π over the network's
    policy entries, z ∈ {−1, 0, 1} from the view of the player who moved there."""
    rng = np.random.default_rng(seed)
    search = _search(network, config, seed)
    size = network.output["policy"].shape[-1]
    actions = game.num_distinct_actions()
    state, positions = game.new_initial_state(), []
    while not state.is_terminal():
        root = search.run(state, add_noise=True)
        visits = search.policy(root, actions, 1.0)
        pi = np.zeros(size, np.float32)
        pi[:actions] = visits
        positions.append((observation_planes(state), pi, state.current_player()))
        if len(positions) <= config.temperature_moves:
            move = int(rng.choice(actions, p=visits))
        else:
            move = int(np.argmax(visits))
        state.apply_action(move)
    returns = state.returns()
    return [(planes, pi, np.float32(returns[player])) for planes, pi, player in positions]


def zero_loss(network, planes, pi, z, l2):
    """(z − v)² − πᵀ log p, averaged over the batch, + l2 · ‖θ‖² over the kernels."""
    out = network(planes, training=True)
    p = ops.clip(ops.cast(out["policy"], "float32"), 1e-8, 1.0)
    value = ops.mean(ops.square(z - ops.cast(out["value"][:, 0], "float32")))
    policy = ops.mean(-ops.sum(pi * ops.log(p), axis=-1))
    penalty = sum(ops.sum(ops.square(w)) for w in network.trainable_weights if len(w.shape) > 1)
    return value + policy + l2 * penalty, value, policy


def play_match(first, second, game, games, config, seed=0, record=None):
    """`first`'s score against `second` over `games` games, colours alternating: (wins + draws / 2) /
    games; no noise, the most visited move (after `config.evaluation_temperature_moves` moves drawn from
    the visit counts, which make the games differ). `record`: a list that receives each game's moves."""
    searches = [_search(n, config, seed) for n in (first, second)]
    actions = game.num_distinct_actions()
    rng = np.random.default_rng(seed)
    score = 0.0
    for g in range(games):
        state = game.new_initial_state()
        seat = g % 2  # the player `first` is in this game
        moves = 0
        while not state.is_terminal():
            search = searches[0 if state.current_player() == seat else 1]
            root = search.run(state, add_noise=False)
            if moves < config.evaluation_temperature_moves:
                state.apply_action(int(rng.choice(actions, p=search.policy(root, actions, 1.0))))
            else:
                state.apply_action(int(np.argmax(search.visit_counts(root, actions))))
            moves += 1
        if record is not None:
            record.append(state.history())
        result = state.returns()[seat]
        score += 1.0 if result > 0 else 0.5 if result == 0 else 0.0
    return score / games


def train_zero(network, game_name, iterations, *, config=TIC_TAC_TOE, seed=0, progress=True):
    """AlphaGo Zero's loop for `iterations` iterations on OpenSpiel game `game_name` from `network` (a
    policy-value model as `alphago_zero`); returns the history and the best network."""
    import pyspiel
    import tensorflow as tf

    config = config.check()
    game = pyspiel.load_game(game_name)
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    best = network
    candidate = keras.models.clone_model(network)
    candidate.set_weights(network.get_weights())
    optimizer = keras.optimizers.SGD(config.learning_rate, momentum=config.momentum)
    optimizer.build(candidate.trainable_variables)

    @tf.function(reduce_retracing=True)
    def step(planes, pi, z):
        with tf.GradientTape() as tape:
            loss, value, policy = zero_loss(candidate, planes, pi, z, config.l2)
        optimizer.apply(tape.gradient(loss, candidate.trainable_variables), candidate.trainable_variables)
        return loss, value, policy

    positions, history = [], []
    for iteration in range(1, iterations + 1):
        started = time.perf_counter()
        for g in range(config.games):
            positions += self_play(best, game, config, seed=int(rng.integers(2**31)))
        positions = positions[-config.window :]
        planes, pi, z = (np.stack(column) for column in zip(*positions))
        losses = []
        for _ in range(config.train_steps):
            pick = rng.integers(0, len(positions), config.batch_size)
            losses.append([float(v) for v in step(planes[pick], pi[pick], z[pick])])
        score = play_match(candidate, best, game, config.evaluation_games, config, seed=int(rng.integers(2**31)))
        promoted = score >= config.win_threshold
        if promoted:
            best = keras.models.clone_model(candidate)
            best.set_weights(candidate.get_weights())
        loss, value, policy = np.mean(losses[-max(1, len(losses) // 10):], axis=0)
        history.append({"iteration": iteration, "positions": len(positions), "loss": loss, "value_loss": value,
                        "policy_loss": policy, "score_against_best": score, "promoted": promoted,
                        "seconds": time.perf_counter() - started})
        if progress:
            print(f"alphago zero: iteration {iteration}: loss {loss:.3f} (value {value:.3f}, policy {policy:.3f}), "
                  f"candidate scores {score:.0%} against the best{' and replaces it' if promoted else ''}",
                  flush=True)
    return {"history": history, "best": best, "candidate": candidate}
