"""The paper details that parameter counts alone would not catch."""

import keras
import numpy as np

import keras_landmarks
from keras_landmarks.models.lenet import C3_TABLE, scaled_tanh
from keras_landmarks.models.resnet import ZeroPadShortcut
from keras_landmarks.registry import paper_param_count


def test_lenet_c3_connection_table():
    """With the paper's table, C3 map j depends on the S2 maps of table row j and no other."""
    model = keras_landmarks.build("lenet5", c3_connections="paper")
    c3 = model.get_layer("c3")
    probe = keras.Model(model.input, c3.output)
    s2 = keras.Model(model.input, model.get_layer("s2").output)
    x = np.random.default_rng(0).standard_normal((1, 14, 14, 6)).astype("float32")
    base = c3(x).numpy()
    for i in range(6):
        changed = x.copy()
        changed[..., i] += 1.0
        moved = np.any(np.abs(c3(changed).numpy() - base) > 1e-6, axis=(0, 1, 2))
        assert [j for j in range(16) if moved[j]] == [j for j, row in enumerate(C3_TABLE) if i in row]
    assert sum(len(row) for row in C3_TABLE) == 60 and c3.count_params() == 1516
    assert probe.output.shape[1:] == (10, 10, 16) and s2.output.shape[1:] == (14, 14, 6)


def test_lenet_squashing_function():
    x = np.linspace(-3, 3, 7).astype("float32")
    np.testing.assert_allclose(scaled_tanh(x).numpy(), 1.7159 * np.tanh(2 * x / 3), rtol=1e-6)
    assert abs(float(scaled_tanh(np.float32(1.0))) - 1.0) < 1e-3  # f(1) = 1, f(-1) = -1 (Appendix A)


def test_alexnet_two_gpu_grouping():
    model = keras_landmarks.build("alexnet", stackwise_num_filters=(8, 8, 8, 8, 8), fc_units=8, input_shape=(67, 67, 3))
    assert [getattr(model.get_layer(f"conv{i}"), "groups", 1) for i in range(1, 6)] == [1, 2, 1, 2, 2]
    assert isinstance(model.get_layer("conv1_lrn"), keras_landmarks.layers.LocalResponseNormalization)
    biases = [float(np.mean(w.numpy())) for n in ("conv1", "conv2", "conv3", "conv4", "conv5", "fc6")
              for w in model.get_layer(n).weights if w.name == "bias"]
    assert biases == [0.0, 1.0, 1.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0]  # §5; conv2, conv4, conv5 have two towers


def test_grouped_conv_equals_keras_grouped_conv():
    from keras_landmarks.models.alexnet import GroupedConv2D

    x = np.random.default_rng(5).standard_normal((2, 7, 7, 6)).astype("float32")
    ours = GroupedConv2D(4, 3, groups=2, padding="same")
    reference = keras.layers.Conv2D(4, 3, groups=2, padding="same")
    ours.build(x.shape), reference.build(x.shape)
    kernel, bias = reference.get_weights()  # kernel (3, 3, 3, 4): output g*2..g*2+1 sees input group g
    for g, tower in enumerate(ours.towers):
        tower.set_weights([kernel[..., 2 * g : 2 * g + 2], bias[2 * g : 2 * g + 2]])
    np.testing.assert_allclose(ours(x).numpy(), reference(x).numpy(), rtol=1e-5, atol=1e-5)
    assert ours.count_params() == reference.count_params()


def test_option_a_shortcut_is_subsample_and_zero_pad():
    x = np.random.default_rng(1).standard_normal((2, 6, 6, 3)).astype("float32")
    y = ZeroPadShortcut(8, 2)(x).numpy()
    np.testing.assert_array_equal(y[..., :3], x[:, ::2, ::2, :])
    assert y.shape == (2, 3, 3, 8) and not np.any(y[..., 3:])


def test_plain_net_is_resnet_without_shortcuts():
    residual = keras_landmarks.build("resnet20")
    plain = keras_landmarks.build("plain20")
    assert paper_param_count(residual) == paper_param_count(plain)
    assert sum(isinstance(layer, keras.layers.Add) for layer in residual.layers) == 9
    assert not any(isinstance(layer, keras.layers.Add) for layer in plain.layers)


def test_resnet_v1_convolutions_have_no_bias_and_v2_identity_path():
    v1 = keras_landmarks.build("resnet18")
    assert all(not layer.use_bias for layer in v1.layers if isinstance(layer, keras.layers.Conv2D))
    v2 = keras_landmarks.build("resnet18_v2")
    # In v2 an identity block's output is exactly its input plus the residual branch (no ReLU after).
    add = v2.get_layer("conv2_block2_out")
    assert isinstance(add, keras.layers.Add)
    assert add.input[0] is v2.get_layer("conv2_block1_out").output


def test_highway_layer_equation():
    from keras_landmarks.models.highway import Highway

    layer = Highway("relu", gate_bias=-2.0)
    x = np.random.default_rng(2).standard_normal((3, 5)).astype("float32")
    y = layer(x).numpy()
    np.testing.assert_array_equal(layer.gate.bias.numpy(), np.full(5, -2.0, "float32"))
    h = np.maximum(x @ layer.transform.kernel.numpy() + layer.transform.bias.numpy(), 0)
    t = 1 / (1 + np.exp(-(x @ layer.gate.kernel.numpy() + layer.gate.bias.numpy())))
    np.testing.assert_allclose(y, h * t + x * (1 - t), rtol=1e-5, atol=1e-6)


def test_dropout_max_norm_holds_after_training():
    model = keras_landmarks.build("dropout_mlp", input_dim=6, hidden_dim=16, num_layers=2, num_classes=3, max_norm=0.5)
    model.compile(keras.optimizers.SGD(10.0), "sparse_categorical_crossentropy")
    rng = np.random.default_rng(3)
    model.fit(rng.standard_normal((32, 6)).astype("float32") * 5, rng.integers(0, 3, 32), epochs=2, verbose=0)
    for name in ("dense1", "dense2", "predictions"):
        norms = np.linalg.norm(model.get_layer(name).kernel.numpy(), axis=0)
        assert np.all(norms <= 0.5 + 1e-5), (name, norms.max())


def test_snn_uses_selu_lecun_normal_and_alpha_dropout():
    model = keras_landmarks.build("snn_mlp")
    dense = model.get_layer("dense1")
    assert dense.activation.__name__ == "selu"
    assert isinstance(dense.kernel_initializer, keras.initializers.LecunNormal)
    assert isinstance(model.get_layer("dense1_alpha_dropout"), keras.layers.AlphaDropout)
    # Self-normalization: with normalized inputs, the last hidden layer stays near mean 0 / variance 1.
    hidden = keras.Model(model.input, model.get_layer("dense8").output)
    z = hidden(np.random.default_rng(4).standard_normal((2048, 784)).astype("float32")).numpy()
    assert abs(z.mean()) < 0.15 and abs(z.var() - 1) < 0.3


def test_glorot_initializations():
    def fan_in_std(init):
        w = keras_landmarks.build("glorot_mlp", initializer=init).get_layer("dense2").kernel.numpy()
        return float(w.std()), float(np.abs(w).max())

    std, limit = fan_in_std("standard")  # U[-1/sqrt(n), 1/sqrt(n)], n = 1000
    assert limit <= 1 / np.sqrt(1000) + 1e-7 and abs(std - 1 / np.sqrt(3000)) < 1e-3
    std, limit = fan_in_std("xavier")  # U[±sqrt(6 / (n_j + n_{j+1}))] (eq. 16)
    assert limit <= np.sqrt(6 / 2000) + 1e-7 and abs(std - np.sqrt(2 / 2000)) < 1e-3
    std, _ = fan_in_std("he")
    assert abs(std - np.sqrt(2 / 1000)) < 2e-3


def test_googlenet_aux_classifiers_and_widths():
    model = keras_landmarks.build("inception_v1", aux_classifiers=True)
    assert model.output_names == ["predictions", "aux1_predictions", "aux2_predictions"]
    widths = {m: model.get_layer(f"inception_{m}_output").output.shape[-1] for m in ("3a", "3b", "4a", "4e", "5b")}
    assert widths == {"3a": 256, "3b": 480, "4a": 512, "4e": 832, "5b": 1024}  # Table 1
    assert model.get_layer("inception_5b_output").output.shape[1:3] == (7, 7)
