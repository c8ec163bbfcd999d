"""Mnih et al.'s claims for deep Q-learning, at CartPole's scale: the algorithm solves a control task, and its
two stabilisers, experience replay and the target network, are what make it work (Nature 2015, Extended Data
Table 3: removing either costs most of the score)."""

import dataclasses

import numpy as np

from keras_landmarks.claims import Claim, register_claim
from keras_landmarks.claims.generative import _pyplot, _spread

SOLVED = 195.0  # CartPole-v0's threshold: a mean return of 195 over 100 consecutive episodes
ENVIRONMENT = "CartPole-v0"
VARIANTS = {"dqn": {}, "no replay": {"replay": False}, "no target network": {"target_network": False}}


def _run(variant, steps, evaluate_every, episodes, seed):
    import keras

    from keras_landmarks import rl

    config = dataclasses.replace(rl.CARTPOLE, **VARIANTS[variant])
    history = rl.train_dqn(rl.mlp_q_network(4, 2), ENVIRONMENT, steps, config=config, seed=seed, progress=False,
                           evaluate_every=evaluate_every)
    network = history["agent"].online
    network.set_weights(history["best_weights"])
    score = rl.evaluate(network, ENVIRONMENT, episodes, seed=1_000_000 + 1_000 * seed)  # fresh episodes
    keras.backend.clear_session()
    return {"episodes": len(history["episode_returns"]), "evaluations": history["evaluations"], "final_returns": score, "final": float(np.mean(score)),
            "steps_per_second": history["steps_per_second"]}


def dqn_cartpole(folder, quick, seeds, progress):
    steps, evaluate_every, episodes = (1_500, 750, 5) if quick else (30_000, 2_500, 100)
    runs = {variant: [] for variant in VARIANTS}
    for variant in VARIANTS:
        for seed in seeds:
            run = _run(variant, steps, evaluate_every, episodes, seed)
            runs[variant].append(run)
            if progress:
                print(f"dqn-cartpole: {variant} seed {seed}: mean return {run['final']:.1f} over {episodes} episodes "
                      f"({run['steps_per_second']:.0f} steps/s)", flush=True)
    final = {variant: [r["final"] for r in rs] for variant, rs in runs.items()}
    full = float(np.mean(final["dqn"]))
    held = (min(final["dqn"]) >= SOLVED
            and all(np.mean(final[v]) <= 0.8 * full for v in VARIANTS if v != "dqn"))

    plt = _pyplot()
    figure, (curves, bars) = plt.subplots(1, 2, figsize=(10, 4.2), gridspec_kw={"width_ratios": [2, 1]})
    colors = {"dqn": "tab:red", "no replay": "tab:blue", "no target network": "tab:green"}
    for variant, rs in runs.items():
        for i, run in enumerate(rs):
            points = np.asarray(run["evaluations"], np.float64)
            curves.plot(points[:, 0], points[:, 1], color=colors[variant], alpha=0.8, marker=".",
                        label=variant if i == 0 else None)
    curves.axhline(SOLVED, color="k", ls=":", label=f"solved ({SOLVED:.0f})")
    curves.set(xlabel="agent step", ylabel="greedy return (10 episodes)", title=f"DQN on {ENVIRONMENT}",
               ylim=(0, 205))
    curves.legend(loc="upper left")
    names = list(VARIANTS)
    means = np.array([np.mean(final[v]) for v in names])
    low = np.maximum(means - np.array([np.min(final[v]) for v in names]), 0.0)  # rounding can make these -0
    high = np.maximum(np.array([np.max(final[v]) for v in names]) - means, 0.0)
    bars.bar(names, means, yerr=[low, high], color=[colors[v] for v in names], capsize=4)
    bars.axhline(SOLVED, color="k", ls=":")
    bars.set(ylabel=f"mean return, {episodes} fresh episodes", title="best evaluated policy", ylim=(0, 205))
    bars.tick_params(axis="x", labelrotation=20)
    figure.tight_layout()
    figure.savefig(folder / "figure.png", dpi=100)
    plt.close(figure)
    summary = (f"the mean return over {episodes} fresh episodes of each run's best evaluated policy, after "
               f"{steps:,} steps: DQN {_spread(final['dqn'])}, without replay {_spread(final['no replay'])}, "
               f"without the target network {_spread(final['no target network'])} (solved: {SOLVED:.0f}; a "
               f"random policy scores about 22).")
    return {"numbers": {"environment": ENVIRONMENT, "steps": steps, "evaluate_every": evaluate_every,
                        "episodes": episodes, "final": final, "runs": runs}, "held": bool(held), "summary": summary}


register_claim(Claim(
    name="dqn-cartpole",
    paper="Mnih et al. (2015)",
    statement="deep Q-learning with experience replay and a separate target network learns a control policy "
              "from reward alone, and that removing either of the two makes the agent clearly worse (Extended "
              "Data Table 3).",
    protocol="Gymnasium's CartPole-v0 (episodes of at most 200 steps); a 4-64-64-2 ReLU Q-network; "
             "`keras_landmarks.rl.train_dqn` with `rl.CARTPOLE`'s settings (Huber loss, Adam 10⁻³, minibatches "
             "of 64 from a replay memory of 50,000 after 1,000 random steps, one update per step, target "
             "network refreshed every 250 updates, ε from 1 to 0.05 over 10,000 steps, γ = 0.99) for 30,000 "
             "steps; the greedy policy is evaluated on 10 episodes every 2,500 steps, and the best of those "
             "policies (the papers report their best evaluated agent) is scored on 100 fresh episodes. The "
             "ablations change one thing each: no replay (each update learns from the latest 64 transitions) "
             "or no target network (the online network gives the targets).",
    rule="held if every seed of the full agent scores at least 195 (CartPole-v0's 'solved') and each ablation's "
         "mean over seeds is at most 80% of the full agent's.",
    run=dqn_cartpole,
))


# --- AlphaGo Zero on tic-tac-toe ---------------------------------------------------------------------------

ZERO_NETWORK = {"board_size": 3, "planes": 3, "filters": 32, "blocks": 2}


def _minimax_table():
    """OpenSpiel's minimax solution of tic-tac-toe: each position's value of every move."""
    from open_spiel.python.algorithms.minimax_solver import MinimaxSolver

    solver = MinimaxSolver("tic_tac_toe")
    solver.solve()
    return solver


def _optimal_moves(solver, state):
    values = solver.action_values_from_state(state)
    legal = state.legal_actions()
    best = max(values[a] for a in legal)
    return [a for a in legal if abs(values[a] - best) < 1e-6]


def _games(choose_network, opponent, game, games, rng):
    """The network's results against `opponent` ((state, rng) -> move) over `games` games, half as the first
    player: {"first": [wins, draws, losses], "second": [...]}; and how many of its moves were optimal."""
    results = {"first": [0, 0, 0], "second": [0, 0, 0]}
    for g in range(games):
        seat = g % 2
        state = game.new_initial_state()
        while not state.is_terminal():
            move = choose_network(state) if state.current_player() == seat else opponent(state, rng)
            state.apply_action(move)
        outcome = state.returns()[seat]
        results["first" if seat == 0 else "second"][0 if outcome > 0 else 1 if outcome == 0 else 2] += 1
    return results


def _zero_run(iterations, config, games, seed, solver):
    import keras
    import pyspiel

    import keras_landmarks
    from keras_landmarks import rl

    game = pyspiel.load_game("tic_tac_toe")
    keras.utils.set_random_seed(seed)
    network = keras_landmarks.build("alphago_zero", **ZERO_NETWORK)
    trained = rl.train_zero(network, "tic_tac_toe", iterations, config=config, seed=seed, progress=False)
    best = trained["best"]
    search = rl.MCTS(rl.network_evaluator(best), config.simulations, c_puct=config.c_puct, batch=config.search_batch,
                     seed=seed)
    moves = {"played": 0, "optimal": 0}

    def choose(state):
        root = search.run(state, add_noise=False)
        move = int(np.argmax(search.visit_counts(root, game.num_distinct_actions())))
        moves["played"] += 1
        moves["optimal"] += move in _optimal_moves(solver, state)
        return move

    rng = np.random.default_rng(10_000 + seed)
    against_minimax = _games(choose, lambda s, r: int(r.choice(_optimal_moves(solver, s))), game, games, rng)
    against_random = _games(choose, lambda s, r: int(r.choice(s.legal_actions())), game, games, rng)
    keras.backend.clear_session()
    return {"history": trained["history"],
            "promotions": int(sum(h["promoted"] for h in trained["history"])),
            "minimax": against_minimax, "random": against_random, "optimal_moves": moves["optimal"] / moves["played"]}


def _reference(solver, games, seed):
    """The minimax player's own results against the random player: what perfect play scores."""
    import pyspiel

    game = pyspiel.load_game("tic_tac_toe")
    rng = np.random.default_rng(seed)
    return _games(lambda s: int(rng.choice(_optimal_moves(solver, s))),
                  lambda s, r: int(r.choice(s.legal_actions())), game, games, rng)


def alphazero_tictactoe(folder, quick, seeds, progress):
    from keras_landmarks import rl

    iterations, games = (1, 4) if quick else (15, 100)
    config = (dataclasses.replace(rl.TIC_TAC_TOE, simulations=8, games=2, train_steps=5, evaluation_games=2)
              if quick else rl.TIC_TAC_TOE)
    solver = _minimax_table()
    runs = []
    for seed in seeds:
        run = _zero_run(iterations, config, games, seed, solver)
        runs.append(run)
        if progress:
            print(f"alphazero-tictactoe: seed {seed}: against minimax {run['minimax']} (wins, draws, losses), against "
                  f"random {run['random']}, {run['optimal_moves']:.1%} of its moves optimal", flush=True)
    reference = _reference(solver, 2_000, 0)

    def share(result, side, outcome):
        return result[side][outcome] / max(1, sum(result[side]))

    lost_to_minimax = [r["minimax"]["first"][2] + r["minimax"]["second"][2] for r in runs]
    wins_first = [share(r["random"], "first", 0) for r in runs]
    lost_second = [r["random"]["second"][2] for r in runs]
    optimal = [r["optimal_moves"] for r in runs]
    held = all(n == 0 for n in lost_to_minimax) and min(wins_first) >= 0.95 and all(n == 0 for n in lost_second)

    plt = _pyplot()
    figure, (losses, bars) = plt.subplots(1, 2, figsize=(10, 4.2))
    for i, run in enumerate(runs):
        steps = [h["iteration"] for h in run["history"]]
        losses.plot(steps, [h["value_loss"] for h in run["history"]], color="tab:blue", alpha=0.8, marker=".",
                    label="value (z − v)²" if i == 0 else None)
        losses.plot(steps, [h["policy_loss"] for h in run["history"]], color="tab:red", alpha=0.8, marker=".",
                    label="policy −πᵀ log p" if i == 0 else None)
    losses.set(xlabel="iteration", ylabel="training loss (last tenth of each iteration)", title="AlphaGo Zero on "
               "tic-tac-toe")
    losses.legend()
    groups = [("vs minimax\nas X", "minimax", "first"), ("vs minimax\nas O", "minimax", "second"),
              ("vs random\nas X", "random", "first"), ("vs random\nas O", "random", "second")]
    x = np.arange(len(groups))
    for k, (label, color) in enumerate((("wins", "tab:green"), ("draws", "tab:gray"), ("losses", "tab:red"))):
        means = [np.mean([share(r[opponent], side, k) for r in runs]) for _, opponent, side in groups]
        bars.bar(x + (k - 1) * 0.27, means, 0.27, color=color, label=label)
    for i, side in ((2, "first"), (3, "second")):
        bars.plot([i - 0.4, i + 0.4], [reference[side][0] / sum(reference[side])] * 2, color="k", ls=":",
                  label="minimax's wins vs random" if i == 2 else None)
    bars.set_xticks(x, [g for g, _, _ in groups])
    bars.set(ylabel=f"share of {games // 2} games", title="the trained network with its search", ylim=(0, 1.3))
    bars.legend(fontsize=8, loc="upper center", ncol=2)
    figure.tight_layout()
    figure.savefig(folder / "figure.png", dpi=100)
    plt.close(figure)
    summary = (f"after {iterations} iterations of {config.games} self-play games ({config.simulations} simulations a "
               f"move), the best network with its search lost {sum(lost_to_minimax)} of {games * len(runs)} games to "
               f"the minimax player; against the random player it won {_spread(wins_first)} of its games as X (minimax "
               f"itself: {reference['first'][0] / sum(reference['first']):.2f}) and lost {sum(lost_second)} of "
               f"{games // 2 * len(runs)} as O; {_spread(optimal)} of its moves were minimax-optimal.")
    return {"numbers": {"iterations": iterations, "games": games, "network": ZERO_NETWORK,
                        "config": dataclasses.asdict(config), "reference_minimax_vs_random": reference,
                        "runs": runs}, "held": bool(held), "summary": summary}


register_claim(Claim(
    name="alphazero-tictactoe",
    paper="Silver et al. (2017)",
    statement="AlphaGo Zero's reinforcement learning, self-play with tree search from random weights and no human "
              "knowledge beyond the rules, learns to play perfectly (on tic-tac-toe, a game small enough to check "
              "against its minimax solution).",
    protocol="OpenSpiel's tic-tac-toe; `alphago_zero` at 3×3 (3 input planes, 32 filters, 2 residual blocks); "
             "`keras_landmarks.rl.train_zero` with `rl.TIC_TAC_TOE` (50 simulations a move, c_puct 1.25, Dirichlet "
             "noise at the root, τ = 1 for 3 moves; 30 self-play games, then 100 minibatches of 64 from the last "
             "5,000 positions, SGD 0.02 with momentum 0.9, c = 10⁻⁴; the candidate replaces the best at 55% of 20 "
             "games, whose first two moves are drawn from the visit counts) for 15 iterations. The best network then plays with its search (50 simulations, no noise, "
             "the most visited move) 100 games against OpenSpiel's minimax solution (a random move among the "
             "optimal ones) and 100 against a random player, half of each as X; each of its moves is checked "
             "against the minimax solution.",
    rule="held if, on every seed, the network loses none of its games to the minimax player, wins at least 95% "
         "of its games as X against the random player and loses none as O (the minimax player itself, breaking "
         "ties at random, wins about 97% as X and 78% as O).",
    run=alphazero_tictactoe,
))
