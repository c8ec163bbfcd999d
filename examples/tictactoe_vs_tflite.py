"""Play tic-tac-toe against an AlphaGo Zero network running from its TFLite file.

    python examples/tictactoe_vs_tflite.py                      # train 10 iterations, export, play (you are X)
    python examples/tictactoe_vs_tflite.py --network net.keras  # export and play a network trained before
    python examples/tictactoe_vs_tflite.py --auto               # a random player instead of you

1. AlphaGo Zero's pipeline (`keras_landmarks.rl.train_zero`: self-play with tree search, training on
   (s, π, z), the new network against the best) trains a small `alphago_zero` network on OpenSpiel's
   tic-tac-toe, unless `--network` gives one.
2. `keras_landmarks.export.convert` writes its TFLite files: float, and int8 if the int8 file chooses
   the same move as Keras on at least 99% of recorded positions (`parity.ActionGate`, legal
   moves only); otherwise the refusal is printed and the float file is used.
3. The TFLite network plays you: its tree search (`rl.MCTS`) reads the file through LiteRT, one
   position at a time. The board is printed after every move; cells are numbered 0-8, row by row.
"""

import argparse
import dataclasses
import pathlib
import sys

import numpy as np


def board_text(state):
    """The board as three rows of X, O and cell numbers."""
    cells = str(state).split()  # OpenSpiel prints rows of '.', 'x', 'o'
    marks = [c.upper() if c != "." else str(i) for i, c in enumerate("".join(cells))]
    return "\n".join(" " + " | ".join(marks[r * 3 : r * 3 + 3]) for r in range(3))


def recorded_positions(game, games, size, seed):
    """The positions of `games` games of random moves (planes) and their legal moves (masks over the
    policy's `size` entries)."""
    from keras_landmarks.rl.mcts import observation_planes

    rng = np.random.default_rng(seed)
    planes, legal = [], []
    for _ in range(games):
        state = game.new_initial_state()
        while not state.is_terminal():
            planes.append(observation_planes(state))
            mask = np.zeros(size, bool)
            mask[state.legal_actions()] = True
            legal.append(mask)
            state.apply_action(int(rng.choice(state.legal_actions())))
    return np.stack(planes), np.stack(legal)


def export(network, planes, legal, out):
    """The TFLite files: (path of the one to play, what was written)."""
    from keras_landmarks.errors import ExportError
    from keras_landmarks.export import convert

    calibration = [{"board": p[None]} for p in planes[::2]]
    try:
        manifest = convert(network, formats=("tflite",), quantize=("none", "int8"), representative_data=calibration,
                           eval_data=(planes[1::2], legal[1::2]), out=out, overwrite=True, batch_size=1,
                           progress=False)
        note = "int8 chosen: it picks the same move as Keras on {:.1%} of {} recorded positions"
        int8 = next(a for a in manifest["artifacts"] if a["variant"] == "int8")
        return pathlib.Path(out) / network.name / int8["path"], note.format(
            int8["parity"]["action_agreement"], int8["parity"]["states"])
    except ExportError as refused:
        manifest = convert(network, formats=("tflite",), out=out, overwrite=True, batch_size=1, progress=False)
        artifact = manifest["artifacts"][0]
        return pathlib.Path(out) / network.name / artifact["path"], f"float used; int8 refused: {refused}"


def play(path, game, simulations, human_first, auto, seed, out=print, read=input):
    """One game, the TFLite network against you (or a random player); returns OpenSpiel's returns."""
    from keras_landmarks import rl
    from keras_landmarks.export.tflite import TFLiteRunner

    search = rl.MCTS(rl.network_evaluator(TFLiteRunner(path=path)), simulations, batch=1, seed=seed)
    rng = np.random.default_rng(seed)
    state = game.new_initial_state()
    human = 0 if human_first else 1
    out(board_text(state))
    while not state.is_terminal():
        if state.current_player() == human:
            legal = state.legal_actions()
            if auto:
                move = int(rng.choice(legal))
            else:
                move = None
                while move not in legal:
                    text = read(f"your move ({', '.join(map(str, legal))}): ").strip()
                    move = int(text) if text.isdigit() else None
            who = "random" if auto else "you"
        else:
            root = search.run(state, add_noise=False)
            move = int(np.argmax(search.visit_counts(root, game.num_distinct_actions())))
            who = "network"
        state.apply_action(move)
        out(f"\n{who} {'play' if who == 'you' else 'plays'} {move}\n{board_text(state)}")
    returns = state.returns()
    result = returns[1 - human]
    out("\n" + ("the network wins" if result > 0 else "a draw" if result == 0 else
                ("the random player wins" if auto else "you win")))
    return returns


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--network", help="a trained .keras network (skips training)")
    parser.add_argument("--iterations", type=int, default=10, help="AlphaGo Zero iterations to train")
    parser.add_argument("--games", type=int, default=None, help="self-play games per iteration")
    parser.add_argument("--simulations", type=int, default=50, help="tree-search simulations per move")
    parser.add_argument("--out", default="runs/tictactoe", help="folder for the network and its TFLite files")
    parser.add_argument("--second", action="store_true", help="let the network play first")
    parser.add_argument("--auto", action="store_true", help="a random player instead of you")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    for key in ("iterations", "simulations") + (("games",) if args.games is not None else ()):
        if getattr(args, key) < 1:
            parser.error(f"--{key} must be at least 1. Received: {getattr(args, key)}")

    import keras
    import pyspiel

    import keras_landmarks
    from keras_landmarks import rl

    game = pyspiel.load_game("tic_tac_toe")
    config = dataclasses.replace(rl.TIC_TAC_TOE, simulations=args.simulations,
                                 **({"games": args.games} if args.games else {}))
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.network:
        network = keras.saving.load_model(args.network)
    else:
        keras.utils.set_random_seed(args.seed)
        network = keras_landmarks.build("alphago_zero", board_size=3, planes=3, filters=32, blocks=2)
        network = rl.train_zero(network, "tic_tac_toe", args.iterations, config=config, seed=args.seed)["best"]
        network.save(out / "alphago_zero.keras")
    planes, legal = recorded_positions(game, 40, network.output["policy"].shape[-1], seed=args.seed)
    path, note = export(network, planes, legal, out / "exports")
    print(f"{path}: {note}")
    play(path, game, args.simulations, human_first=not args.second, auto=args.auto, seed=args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
