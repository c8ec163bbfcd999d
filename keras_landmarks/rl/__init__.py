"""Reinforcement learning: deep Q-learning (`train_dqn`) on Gymnasium environments (`make`; Atari with the
DQN papers' preprocessing), and Monte-Carlo tree search with a policy-value network (`MCTS`) on
OpenSpiel's games."""

from keras_landmarks.rl.alphazero import TIC_TAC_TOE, ZeroConfig, play_match, self_play, train_zero
from keras_landmarks.rl.dqn import (CARTPOLE, NATURE, DQNAgent, DQNConfig, ReplayMemory, epsilon, evaluate,
                                    mlp_q_network, train_dqn)
from keras_landmarks.rl.environments import make
from keras_landmarks.rl.mcts import MCTS, network_evaluator, rollout_evaluator

__all__ = ["CARTPOLE", "MCTS", "NATURE", "TIC_TAC_TOE", "DQNAgent", "DQNConfig", "ReplayMemory", "ZeroConfig",
           "epsilon", "evaluate", "make", "mlp_q_network", "network_evaluator", "play_match", "rollout_evaluator",
           "self_play", "train_dqn", "train_zero"]
