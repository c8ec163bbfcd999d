"""Monte-Carlo tree search with a policy-value function (AlphaGo Zero, Methods, "Search algorithm").

Each edge $(s, a)$ holds a visit count $N$, a total value $W$, its mean $Q = W / N$ and a prior $P$. A
simulation descends from the root choosing

$$a_t = \\arg\\max_a \\Big(Q(s_t, a) + c_{\\mathrm{puct}}\\,P(s_t, a)\\,
\\frac{\\sqrt{\\sum_b N(s_t, b)}}{1 + N(s_t, a)}\\Big)$$

(PUCT), until it reaches a leaf $s_L$, which the network evaluates, $(\\mathbf{p}, v) = f_\\theta(s_L)$:
the leaf is expanded with priors $\\mathbf{p}$ over its legal moves, and $v$ is backed up along the path,
each edge counting it from the view of the player who chose it. A finished game's leaf takes its
result instead. At the root, the priors are mixed with Dirichlet noise, $P = (1 - \\varepsilon)\\,p +
\\varepsilon\\,\\eta$, $\\eta \\sim \\mathrm{Dir}(\\alpha)$, $\\varepsilon = 0.25$, $\\alpha = 0.03$ for
Go's 362 moves and scaled in inverse proportion to the number of moves for other games. Moves are
played from $\\pi(a) \\propto N(s_0, a)^{1/\\tau}$.

Leaves are evaluated `batch` at a time: while a batch is gathered, each path carries a virtual loss (its
visits counted and lost in advance), so that the simulations of one batch spread over the tree; it is
taken back when the values arrive. `batch=1` is the sequential search.

Games come from OpenSpiel (`pyspiel` states: `legal_actions`, `apply_action`, `is_terminal`,
`returns`, `current_player`, `clone`), two-player and zero-sum. An evaluator is a function from a list
of states to (priors (n, actions), values (n,)), each value from the view of the player to move;
`network_evaluator` wraps a Keras policy-value network, `rollout_evaluator` gives plain UCT (uniform
priors, the result of a random game).

$c_{\\mathrm{puct}}$ is not published for AlphaGo Zero; 1.25 here (AlphaZero's pseudocode's $c_{\\mathrm{init}}$).
"""

import math

import numpy as np

GO_ALPHA, GO_MOVES = 0.03, 362


def dirichlet_alpha(actions):
    """α for a game of `actions` distinct moves: Go's 0.03 scaled by 362 / actions."""
    return GO_ALPHA * GO_MOVES / int(actions)


class Node:
    """An edge into a state: prior P, visits N and total value W (from the view of the player who chose
    it); `children` once expanded, {action: Node}."""

    __slots__ = ("prior", "visits", "total", "children")

    def __init__(self, prior):
        self.prior, self.visits, self.total, self.children = float(prior), 0.0, 0.0, None

    @property
    def q(self):
        return self.total / self.visits if self.visits else 0.0


class MCTS:
    """`run(state)` searches from `state` and returns the root; `policy(root, temperature)` the move
    probabilities π over the game's distinct actions. `evaluate(states) -> (priors, values)`."""

    def __init__(self, evaluate, simulations=800, *, c_puct=1.25, dirichlet_alpha=None, noise_fraction=0.25,
                 batch=8, virtual_loss=1.0, seed=0):
        if isinstance(simulations, bool) or not isinstance(simulations, int) or simulations < 1:
            from keras_landmarks.errors import ConfigError

            raise ConfigError(f"Invalid number of simulations {simulations!r}: a positive integer.",
                              key="simulations", value=simulations)
        self.evaluate, self.simulations, self.c_puct = evaluate, simulations, float(c_puct)
        self.alpha, self.noise_fraction = dirichlet_alpha, float(noise_fraction)
        self.batch, self.virtual_loss = max(1, int(batch)), float(virtual_loss)
        self.rng = np.random.default_rng(seed)

    def _expand(self, node, state, priors):
        legal = state.legal_actions()
        p = np.asarray(priors, np.float64)[legal]
        p = p / p.sum() if p.sum() > 0 else np.full(len(legal), 1.0 / len(legal))
        node.children = {a: Node(pa) for a, pa in zip(legal, p)}

    def _select(self, node):
        root_visits = math.sqrt(max(sum(c.visits for c in node.children.values()), 1e-8))
        best, best_score = None, -math.inf
        for action, child in node.children.items():
            score = child.q + self.c_puct * child.prior * root_visits / (1.0 + child.visits)
            if score > best_score:
                best, best_score = action, score
        return best

    def _terminal_value(self, state, player):
        return float(state.returns()[player])

    def run(self, state, add_noise=True):
        root = Node(1.0)
        priors, _ = self.evaluate([state])
        self._expand(root, state, priors[0])
        if add_noise and self.noise_fraction > 0:
            actions = list(root.children)
            alpha = self.alpha if self.alpha is not None else dirichlet_alpha(state.get_game().num_distinct_actions())
            noise = self.rng.dirichlet([alpha] * len(actions))
            for a, eta in zip(actions, noise):
                root.children[a].prior = (1 - self.noise_fraction) * root.children[a].prior + self.noise_fraction * eta
        done = 0
        while done < self.simulations:
            pending = []  # (path of (node, player who chose it), leaf state)
            for _ in range(min(self.batch, self.simulations - done)):
                node, leaf, path = root, state.clone(), []
                while node.children and not leaf.is_terminal():
                    action = self._select(node)
                    player = leaf.current_player()
                    node = node.children[action]
                    node.visits += self.virtual_loss  # counted and lost in advance, taken back at backup
                    node.total -= self.virtual_loss
                    path.append((node, player))
                    leaf.apply_action(action)
                done += 1
                if leaf.is_terminal():
                    self._backup(path, {p: self._terminal_value(leaf, p) for p in (0, 1)})
                else:
                    pending.append((path, leaf, node))
            if pending:
                priors, values = self.evaluate([leaf for _, leaf, _ in pending])
                for (path, leaf, node), p, v in zip(pending, priors, values):
                    if node.children is None:
                        self._expand(node, leaf, p)
                    mover = leaf.current_player()
                    self._backup(path, {mover: float(v), 1 - mover: -float(v)})
        return root

    def _backup(self, path, value_of):
        for node, player in path:
            node.visits += 1.0 - self.virtual_loss
            node.total += value_of[player] + self.virtual_loss

    @staticmethod
    def visit_counts(root, actions):
        counts = np.zeros(int(actions))
        for a, child in root.children.items():
            counts[a] = child.visits
        return counts

    def policy(self, root, actions, temperature=1.0):
        """π(a) ∝ N(s₀, a)^(1/τ) over `actions` distinct moves; τ = 0: all mass on the most visited."""
        counts = self.visit_counts(root, actions)
        if temperature == 0:
            pi = np.zeros_like(counts)
            pi[int(np.argmax(counts))] = 1.0
            return pi
        powered = counts ** (1.0 / temperature)
        return powered / powered.sum()


def rollout_evaluator(seed=0):
    """Plain UCT's evaluation: uniform priors, and the result of one random game from the state (from
    the view of the player to move)."""
    rng = np.random.default_rng(seed)

    def evaluate(states):
        actions = states[0].get_game().num_distinct_actions()
        values = []
        for state in states:
            player, game = state.current_player(), state.clone()
            while not game.is_terminal():
                game.apply_action(int(rng.choice(game.legal_actions())))
            values.append(game.returns()[player])
        return np.full((len(states), actions), 1.0 / actions), np.asarray(values, np.float64)

    return evaluate


def observation_planes(state):
    """OpenSpiel's observation tensor of the player to move, channels last (rows, columns, planes)."""
    shape = state.get_game().observation_tensor_shape()
    planes = np.asarray(state.observation_tensor(state.current_player()), np.float32).reshape(shape)
    return np.moveaxis(planes, 0, -1)


def network_evaluator(model):
    """A policy-value network (`board` → `policy` probabilities, `value`, as `alphago_zero`) as an
    evaluator: one batched call for the states' observation planes; the policy's first `actions` entries
    are the game's moves. `model`: a Keras model, or an exported artifact's runner (a callable from
    {"board": planes} to its outputs, as `keras_landmarks.export.tflite.TFLiteRunner`), called one
    state at a time (an edge file is converted for batch 1)."""
    import keras

    def evaluate(states):
        actions = states[0].get_game().num_distinct_actions()
        planes = np.stack([observation_planes(s) for s in states])
        if isinstance(model, keras.Model):
            out = model(planes, training=False)
        else:
            calls = [model({"board": p[None]}) for p in planes]
            out = {k: np.concatenate([c[k] for c in calls]) for k in ("policy", "value")}
        priors = np.asarray(out["policy"])[:, :actions]
        return priors, np.asarray(out["value"])[:, 0]

    return evaluate
