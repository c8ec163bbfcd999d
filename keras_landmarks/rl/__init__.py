"""Reinforcement learning: deep Q-learning (`train_dqn`) on Gymnasium environments (`make`; Atari with the
DQN papers' preprocessing)."""

from keras_landmarks.rl.dqn import (CARTPOLE, NATURE, DQNAgent, DQNConfig, ReplayMemory, epsilon, evaluate,
                                    mlp_q_network, train_dqn)
from keras_landmarks.rl.environments import make

__all__ = ["CARTPOLE", "NATURE", "DQNAgent", "DQNConfig", "ReplayMemory", "epsilon", "evaluate", "make",
           "mlp_q_network", "train_dqn"]
