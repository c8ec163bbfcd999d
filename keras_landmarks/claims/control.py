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
    return {"returns": history["episode_returns"], "ends": history["episode_ends"],
            "evaluations": history["evaluations"], "final_returns": score, "final": float(np.mean(score)),
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
