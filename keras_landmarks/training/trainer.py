"""`LossTrainer`: the `keras.Model` a procedure trains when its paper defines its own loss (word2vec's
negative sampling, GloVe's weighted least squares, Transformer-XL's loss with a carried memory)."""

import keras


class LossTrainer(keras.Model):
    """A model around a registry network `net` that trains by its paper's own loss. A subclass gives
    `step_loss(data)` → (the scalar whose gradient is applied to the network's trainable variables, the
    scalar reported as `loss`); `call` is the network's, so evaluation and export see the network."""

    def __init__(self, net, **kwargs):
        super().__init__(**kwargs)
        self.net = net
        self.tracker = keras.metrics.Mean(name="loss")

    @property
    def metrics(self):
        return [self.tracker]

    def call(self, inputs, training=False):
        return self.net(inputs, training=training)

    def step_loss(self, data):
        raise NotImplementedError

    def trained_variables(self):
        """What the optimizer updates: the network's trainable variables, and a subclass's own (a
        pre-training softmax that is not part of the network)."""
        return self.net.trainable_variables

    def train_step(self, data):
        import tensorflow as tf

        with tf.GradientTape() as tape:
            loss, reported = self.step_loss(data)
        variables = self.trained_variables()
        self.optimizer.apply(tape.gradient(loss, variables), variables)
        self.tracker.update_state(reported)
        return {"loss": self.tracker.result()}
