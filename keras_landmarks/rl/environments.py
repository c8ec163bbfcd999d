"""Environments through Gymnasium; Atari through `ale-py`, whose wheel ships the game ROMs.

`make("CartPole-v1")` is Gymnasium's environment as it is. An Atari name (`"ALE/Pong-v5"`) gets the
DQN papers' preprocessing from Gymnasium's own wrappers (Nature, Methods): each action repeated on 4
frames, the maximum of the last two frames (the emulator flickers), the luminance scaled to 84 × 84,
up to 30 no-op actions at the start of an episode, and the last 4 such frames stacked, channels last:
observations (84, 84, 4) uint8, what `dqn_nature` reads.
"""

import functools

from keras_landmarks.errors import ConfigError

ATARI_PREFIX = "ALE/"


def _gymnasium():
    try:
        import gymnasium
    except ImportError:
        raise ConfigError("Reinforcement learning needs Gymnasium: pip install 'keras_landmarks[rl]'.",
                          key="environment", value=None) from None
    return gymnasium


def make(name, seed=0, *, frame_skip=4, frames=4, noop_max=30, render_mode=None):
    """A Gymnasium environment, reset with `seed`; Atari names with the papers' preprocessing (see the
    module docstring). Returns (env, first observation)."""
    gym = _gymnasium()
    if not isinstance(name, str) or not name:
        raise ConfigError(f"Invalid environment {name!r}: a Gymnasium id such as 'CartPole-v1' or 'ALE/Pong-v5'.",
                          key="environment", value=name)
    if name.startswith(ATARI_PREFIX):
        try:
            import ale_py
        except ImportError:
            raise ConfigError(f"{name} needs the Arcade Learning Environment: pip install 'keras_landmarks[rl]'.",
                              key="environment", value=name) from None
        gym.register_envs(ale_py)
    try:
        if name.startswith(ATARI_PREFIX):
            env = gym.make(name, frameskip=1, repeat_action_probability=0.0, render_mode=render_mode)
            env = gym.wrappers.AtariPreprocessing(env, noop_max=noop_max, frame_skip=frame_skip, screen_size=84,
                                                  grayscale_obs=True, terminal_on_life_loss=False)
            env = gym.wrappers.FrameStackObservation(env, frames)
            env = _channels_last_wrapper()(env)
        else:
            env = gym.make(name, render_mode=render_mode)
    except gym.error.Error as error:
        raise ConfigError(f"Unknown environment {name!r} ({error}).", key="environment", value=name) from None
    observation, _ = env.reset(seed=seed)
    env.action_space.seed(seed)
    return env, observation


@functools.lru_cache(maxsize=1)
def _channels_last_wrapper():
    gym = _gymnasium()
    import numpy as np

    class ChannelsLast(gym.ObservationWrapper):
        """(frames, H, W) stacked frames → (H, W, frames), the layout of Keras's convolutions."""

        def __init__(self, env):
            super().__init__(env)
            space = env.observation_space
            self.observation_space = gym.spaces.Box(
                np.moveaxis(space.low, 0, -1), np.moveaxis(space.high, 0, -1), dtype=space.dtype)

        def observation(self, observation):
            return np.moveaxis(np.asarray(observation), 0, -1)

    return ChannelsLast


def __getattr__(name):  # the wrapper class needs Gymnasium, imported only when used
    if name == "ChannelsLast":
        return _channels_last_wrapper()
    raise AttributeError(name)
