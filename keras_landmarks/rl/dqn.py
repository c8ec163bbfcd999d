"""Deep Q-learning with experience replay and a target network (Mnih et al. 2013; Nature 2015, Algorithm 1).

The agent acts ε-greedily on $Q(s, \\cdot\\,; \\theta)$, stores each transition $(s, a, r, s')$ in a
replay memory $D$, and every `update_every` steps fits $\\theta$ to a minibatch drawn uniformly from
$D$, against targets from a copy $\\theta^-$ refreshed every `target_update` updates (eq. 3):

$$y = r + \\gamma\\,(1 - \\mathrm{terminal})\\max_{a'} Q(s', a'; \\theta^-), \\qquad
L(\\theta) = \\mathrm{Huber}_1\\big(y - Q(s, a; \\theta)\\big),$$

the Huber loss being the paper's error clipped to [−1, 1]. Rewards are clipped to their sign. ε falls
linearly from 1 to 0.1 over the first million steps. The optimiser is the paper's RMSProp (Extended Data
Table 1: rate 2.5·10⁻⁴, gradient and squared-gradient momentum 0.95, 0.01 added to the centred second
moment under the root), which is Keras's `RMSprop(rho=0.95, epsilon=0.01, centered=True)`.

`NATURE` holds Extended Data Table 1; `replay=False` and `target_network=False` are the ablations of
Extended Data Table 3 (learning from the latest transitions only; targets from the network being
trained).

    from keras_landmarks import rl
    history = rl.train_dqn("dqn_nature", "ALE/Pong-v5", steps=10_000_000)            # the paper's setting
    history = rl.train_dqn(rl.mlp_q_network(4, 2), "CartPole-v1", steps=50_000, config=rl.CARTPOLE)

Deviations: the replay memory stores each transition's two stacked observations (the authors store each
frame once); its capacity is an option (1,000,000 Atari transitions take 56 GB this way).
"""

import dataclasses
import time

import keras
import numpy as np
from keras import ops

from keras_landmarks.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class DQNConfig:
    """The algorithm's hyperparameters; the defaults are the Nature paper's (Extended Data Table 1)."""

    gamma: float = 0.99  # discount factor
    learning_rate: float = 2.5e-4
    batch_size: int = 32
    replay_capacity: int = 1_000_000
    replay_start: int = 50_000  # steps of the random policy before learning starts
    target_update: int = 10_000  # C: parameter updates between target-network refreshes
    update_every: int = 4  # agent steps between updates
    epsilon_start: float = 1.0
    epsilon_final: float = 0.1
    epsilon_steps: int = 1_000_000  # steps over which ε falls linearly
    clip_rewards: bool = True
    replay: bool = True  # False: learn from the latest `batch_size` transitions (no replay)
    target_network: bool = True  # False: the network being trained gives the targets
    optimizer: str = "rmsprop"  # "rmsprop" (the paper's) or "adam"

    def check(self):
        for key in ("batch_size", "replay_capacity", "target_update", "update_every", "epsilon_steps"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"Invalid DQN option {key}={value!r}: a positive integer.", key=key, value=value)
        if isinstance(self.replay_start, bool) or not isinstance(self.replay_start, int) or self.replay_start < 0:
            raise ConfigError(f"Invalid DQN option replay_start={self.replay_start!r}: an integer >= 0.",
                              key="replay_start", value=self.replay_start)
        for key in ("gamma", "epsilon_start", "epsilon_final"):
            value = getattr(self, key)
            if not 0.0 <= value <= 1.0:
                raise ConfigError(f"Invalid DQN option {key}={value!r}: a number in [0, 1].", key=key, value=value)
        if not self.learning_rate > 0:
            raise ConfigError(f"Invalid DQN option learning_rate={self.learning_rate!r}: a positive number.",
                              key="learning_rate", value=self.learning_rate)
        if self.optimizer not in ("rmsprop", "adam"):
            raise ConfigError(f"Invalid DQN option optimizer={self.optimizer!r}: 'rmsprop' or 'adam'.",
                              key="optimizer", value=self.optimizer)
        return self


NATURE = DQNConfig()
# CartPole's usual small-scale settings (the same algorithm): learning starts sooner, the target is
# refreshed more often, ε falls over 10,000 steps; Adam.
CARTPOLE = DQNConfig(learning_rate=1e-3, batch_size=64, replay_capacity=50_000, replay_start=1_000, target_update=250,
                     update_every=1, epsilon_final=0.05, epsilon_steps=10_000, clip_rewards=False, optimizer="adam")


class ReplayMemory:
    """The last `capacity` transitions, overwritten oldest first; `sample` draws uniformly."""

    def __init__(self, capacity, observation_shape, observation_dtype):
        self.capacity = int(capacity)
        self.observations = np.zeros((self.capacity, *observation_shape), observation_dtype)
        self.next_observations = np.zeros((self.capacity, *observation_shape), observation_dtype)
        self.actions = np.zeros(self.capacity, np.int32)
        self.rewards = np.zeros(self.capacity, np.float32)
        self.terminals = np.zeros(self.capacity, np.float32)
        self.count = 0  # transitions ever added

    def __len__(self):
        return min(self.count, self.capacity)

    def add(self, observation, action, reward, next_observation, terminal):
        i = self.count % self.capacity
        self.observations[i], self.next_observations[i] = observation, next_observation
        self.actions[i], self.rewards[i], self.terminals[i] = action, reward, float(terminal)
        self.count += 1

    def _take(self, index):
        return (self.observations[index], self.actions[index], self.rewards[index], self.next_observations[index],
                self.terminals[index])

    def sample(self, size, rng):
        return self._take(rng.integers(0, len(self), size))

    def latest(self, size):
        """The last `size` transitions added, oldest first."""
        return self._take((self.count - 1 - np.arange(min(size, len(self)))[::-1]) % self.capacity)


def act(network, observation, epsilon_value, rng):
    """ε-greedy: a uniformly random action with probability ε, else argmax_a Q(observation, a)."""
    if rng.random() < epsilon_value:
        return int(rng.integers(network.output.shape[-1]))
    return int(np.argmax(ops.convert_to_numpy(network(np.asarray(observation)[None], training=False))[0]))


def epsilon(step, config):
    """ε at agent step `step`: linear from epsilon_start to epsilon_final over epsilon_steps, then flat."""
    fraction = min(1.0, step / config.epsilon_steps)
    return config.epsilon_start + fraction * (config.epsilon_final - config.epsilon_start)


class DQNAgent:
    """The online network, its target copy, the optimiser and one update (`learn`)."""

    def __init__(self, network, config=NATURE):
        self.config = config.check()
        self.online = network
        self.target = keras.models.clone_model(network)
        self.target.set_weights(network.get_weights())
        if config.optimizer == "rmsprop":
            self.optimizer = keras.optimizers.RMSprop(config.learning_rate, rho=0.95, epsilon=0.01, centered=True)
        else:
            self.optimizer = keras.optimizers.Adam(config.learning_rate)
        self.optimizer.build(network.trainable_variables)
        self.loss = keras.losses.Huber(delta=1.0)
        self.updates = 0
        self._step = None

    def act(self, observation, epsilon_value, rng):
        return act(self.online, observation, epsilon_value, rng)

    def targets(self, rewards, next_observations, terminals):
        """y = r + γ (1 − terminal) max_a' Q(s', a'; θ⁻) (θ without a target network)."""
        source = self.target if self.config.target_network else self.online
        best = ops.max(source(next_observations, training=False), axis=-1)
        return ops.stop_gradient(rewards + self.config.gamma * (1.0 - terminals) * best)

    def _update(self, observations, actions, rewards, next_observations, terminals):
        import tensorflow as tf

        y = self.targets(rewards, next_observations, terminals)
        variables = self.online.trainable_variables
        with tf.GradientTape() as tape:
            q = self.online(observations, training=True)
            chosen = ops.take_along_axis(q, ops.expand_dims(actions, -1), axis=-1)[:, 0]
            loss = self.loss(y, chosen)
        self.optimizer.apply(tape.gradient(loss, variables), variables)
        return loss

    def learn(self, batch):
        """One update on a minibatch (observations, actions, rewards, next observations, terminals); the
        target network is refreshed every `target_update` updates. Returns the loss."""
        import tensorflow as tf

        if self._step is None:
            self._step = tf.function(self._update, reduce_retracing=True)
        observations, actions, rewards, next_observations, terminals = batch
        loss = self._step(tf.constant(observations, tf.float32), tf.constant(actions, tf.int32),
                          tf.constant(rewards, tf.float32), tf.constant(next_observations, tf.float32),
                          tf.constant(terminals, tf.float32))
        self.updates += 1
        if self.updates % self.config.target_update == 0:
            self.target.set_weights(self.online.get_weights())
        return float(loss)


def mlp_q_network(observation_size, actions, hidden=(64, 64), name="mlp_q"):
    """A small Q-network for vector observations (CartPole's 4 numbers): ReLU layers, one linear output
    per action."""
    inputs = keras.Input((int(observation_size),), name="observation")
    x = inputs
    for i, units in enumerate(hidden, 1):
        x = keras.layers.Dense(units, activation="relu", name=f"hidden_{i}")(x)
    return keras.Model(inputs, keras.layers.Dense(int(actions), name="q_values")(x), name=name)


def _network(network, env, observation):
    from keras_landmarks import registry

    actions = int(env.action_space.n)
    if isinstance(network, str):
        return registry.build(network, actions=actions, input_shape=tuple(observation.shape))
    if network.output.shape[-1] != actions or tuple(network.input.shape[1:]) != tuple(observation.shape):
        raise ConfigError(f"The network maps {tuple(network.input.shape[1:])} to {network.output.shape[-1]} values; "
                          f"the environment gives observations {tuple(observation.shape)} and has {actions} actions.",
                          key="network", value=network.name)
    return network


def train_dqn(network, environment, steps, *, config=NATURE, seed=0, progress=True, report_every=10,
              evaluate_every=None, evaluation_episodes=10):
    """Run Algorithm 1 for `steps` agent steps on Gymnasium `environment` (see `environments.make`) with
    `network` (a registry name, built for the environment's actions and observations, or a Keras model).
    Returns the history: each finished episode's return (unclipped) and last step, the updates made, the
    agent (`agent.online` is the trained network) and the speed. `evaluate_every=N`: every N steps (and
    at the end) the greedy policy plays `evaluation_episodes` episodes (`evaluate`, seeds apart from
    training's); the history then holds `evaluations` ([step, mean return] each) and `best_weights`, the
    online network's weights at the best of them (the latest among equals), as the papers report the
    best evaluated policy."""
    from keras_landmarks.rl.environments import make

    config = config.check()
    for key, what, value in (("steps", "number of steps", steps),
                             ("evaluation_episodes", "number of evaluation episodes", evaluation_episodes),
                             ("evaluate_every", "evaluate_every", 1 if evaluate_every is None else evaluate_every)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"Invalid {what} {value!r}: a positive integer.", key=key, value=value)
    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    env, observation = make(environment, seed)
    agent = DQNAgent(_network(network, env, observation), config)
    capacity = config.replay_capacity if config.replay else config.batch_size
    memory = ReplayMemory(capacity, observation.shape, observation.dtype)
    returns, ends, episode_return = [], [], 0.0
    evaluations, best, evaluating = [], (-np.inf, None), 0.0

    def evaluated(step):
        nonlocal best, evaluating
        began = time.perf_counter()
        score = float(np.mean(evaluate(agent.online, environment, evaluation_episodes, seed=10_000 * (seed + 1))))
        evaluations.append([step, score])
        if score >= best[0]:
            best = (score, agent.online.get_weights())
        if progress:
            print(f"dqn: step {step:,}, greedy return {score:.1f} over {evaluation_episodes} episodes", flush=True)
        evaluating += time.perf_counter() - began

    started = time.perf_counter()
    for step in range(steps):
        action = agent.act(observation, epsilon(step, config), rng)
        next_observation, reward, terminated, truncated, _ = env.step(action)
        memory.add(observation, action, np.sign(reward) if config.clip_rewards else reward, next_observation,
                   terminated)  # a time limit is not a terminal state: its value is still bootstrapped
        episode_return += float(reward)
        observation = next_observation
        if terminated or truncated:
            returns.append(episode_return)
            ends.append(step + 1)
            episode_return = 0.0
            observation, _ = env.reset()
            if progress and len(returns) % report_every == 0:
                recent = np.mean(returns[-report_every:])
                print(f"dqn: step {step + 1:,}, episode {len(returns):,}, mean return of the last {report_every} "
                      f"{recent:.1f}, ε {epsilon(step, config):.2f}", flush=True)
        # learning starts after `replay_start` steps (counted as transitions seen: without replay the memory
        # holds one minibatch only)
        if memory.count >= max(config.replay_start, config.batch_size) and step % config.update_every == 0:
            batch = memory.sample(config.batch_size, rng) if config.replay else memory.latest(config.batch_size)
            agent.learn(batch)
        if evaluate_every and ((step + 1) % evaluate_every == 0 or step + 1 == steps):
            evaluated(step + 1)
    env.close()
    seconds = time.perf_counter() - started - evaluating  # the speed of training, evaluations left out
    history = {"episode_returns": returns, "episode_ends": ends, "updates": agent.updates, "steps": steps,
               "seconds": seconds, "steps_per_second": steps / seconds, "agent": agent}
    if evaluate_every:
        history.update(evaluations=evaluations, best_weights=best[1])
    return history


def evaluate(network, environment, episodes=10, *, epsilon_value=0.0, seed=1_000, max_steps=None):
    """The returns of `episodes` episodes played by `network`'s ε-greedy policy (ε = 0: greedy; the papers
    evaluate at ε = 0.05), from seeds `seed`, `seed` + 1, ..."""
    from keras_landmarks.rl.environments import make

    rng = np.random.default_rng(seed)
    env, observation = make(environment, seed)
    returns = []
    for episode in range(int(episodes)):
        if episode:
            observation, _ = env.reset(seed=seed + episode)
        total, done, steps = 0.0, False, 0
        while not done and (max_steps is None or steps < max_steps):
            action = act(network, observation, epsilon_value, rng)
            observation, reward, terminated, truncated, _ = env.step(action)
            total, done, steps = total + float(reward), terminated or truncated, steps + 1
        returns.append(total)
    env.close()
    return returns
