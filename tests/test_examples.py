"""The examples run as their docstrings say."""

import importlib.util
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _example(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "examples" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.large  # about 30 s: one AlphaGo Zero iteration, two conversions, two games
def test_tictactoe_against_the_tflite_network(tmp_path, capsys):
    pyspiel = pytest.importorskip("pyspiel")
    example = _example("tictactoe_vs_tflite")
    assert example.main(["--iterations", "1", "--games", "2", "--simulations", "8", "--auto",
                         "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    tflite = next((tmp_path / "exports" / "alphago_zero").glob("*.tflite"))
    assert f"{tflite}: " in printed and ("int8 chosen" in printed or "int8 refused" in printed)
    assert "network plays" in printed and printed.rstrip().splitlines()[-1] in (
        "the network wins", "a draw", "the random player wins")
    assert (tmp_path / "alphago_zero.keras").is_file()

    # a person's moves: text that is not a free cell is asked again
    asked, moves = [], iter(["x", "9", "4", "0", "1", "2", "3", "5", "6", "7", "8"])
    game = pyspiel.load_game("tic_tac_toe")
    lines = []

    def read(prompt):
        asked.append(prompt)
        return next(moves)

    returns = example.play(tflite, game, 8, human_first=True, auto=False, seed=0, out=lines.append, read=read)
    assert asked[0].startswith("your move (0, 1, 2, 3, 4, 5, 6, 7, 8)") and len(asked) >= 4
    assert any(line.startswith("\nyou play 4\n") for line in lines)  # the first legal answer
    assert sorted(returns) in ([-1.0, 1.0], [0.0, 0.0])
