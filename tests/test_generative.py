"""The generative papers' procedures: the VAE's ELBO, the GAN game, WGAN's clipping and WGAN-GP's
penalty, each against its equation, and each trained through `train` (checkpoints, resume, sample
grids, the saved networks)."""

import json

import keras
import numpy as np
import pytest

import keras_landmarks
from keras_landmarks import ConfigError
from keras_landmarks.cli import main
from keras_landmarks.models.gan import GAN
from keras_landmarks.models.vae import VAE, negative_elbo
from keras_landmarks.training import train

RNG = np.random.default_rng(0)
SMALL_GAN = {"image_shape": (8, 8, 1), "hidden_dims": (32, 32), "latent_dim": 8}
SMALL_DCGAN = {"image_shape": (8, 8, 1), "filters": 8, "latent_dim": 8}


def test_negative_elbo_sums_the_kl_over_latent_dimensions():
    """−ELBO = −Σ_pixels [x log y + (1 − x) log(1 − y)] − ½ Σ_j (1 + log σ_j² − μ_j² − σ_j²) (eq. 10 and
    Appendix B): summed over the J dimensions, not averaged (averaging would shrink the KL J-fold)."""
    x = RNG.uniform(0, 1, (3, 4, 4, 1)).astype("float32")
    y = RNG.uniform(0.05, 0.95, (3, 4, 4, 1)).astype("float32")
    mean, log_var = RNG.normal(size=(3, 5)).astype("float32"), RNG.normal(size=(3, 5)).astype("float32")
    loss, reconstruction, kl = (keras.ops.convert_to_numpy(t) for t in negative_elbo(x, y, mean, log_var))
    expected_kl = -0.5 * np.sum(1 + log_var - mean**2 - np.exp(log_var), axis=1)
    expected_rec = -np.sum(x * np.log(y) + (1 - x) * np.log(1 - y), axis=(1, 2, 3))
    np.testing.assert_allclose(kl, expected_kl, rtol=1e-5)
    np.testing.assert_allclose(reconstruction, expected_rec, rtol=1e-5)
    np.testing.assert_allclose(loss, expected_rec + expected_kl, rtol=1e-5)


def test_vae_exposes_encode_decode_sample_and_its_forward_is_the_reparameterisation():
    model = keras_landmarks.build("vae_mlp", latent_dim=3, hidden_dim=8, input_shape=(4, 4, 1))
    vae = VAE(model)
    x = RNG.uniform(0, 1, (2, 4, 4, 1)).astype("float32")
    noise = RNG.normal(size=(2, 3)).astype("float32")
    mean, log_var = (keras.ops.convert_to_numpy(t) for t in vae.encode(x))
    out = model({"images": x, "noise": noise})
    np.testing.assert_allclose(out["mean"], mean, rtol=1e-6)
    z = mean + np.exp(0.5 * log_var) * noise  # §2.4
    np.testing.assert_allclose(out["reconstruction"], vae.decode(z), rtol=1e-5, atol=1e-6)
    samples = keras.ops.convert_to_numpy(vae.sample(5, seed=1))
    assert samples.shape == (5, 4, 4, 1) and 0 <= samples.min() and samples.max() <= 1


def test_vae_trains_through_train_and_its_held_out_elbo_improves(tmp_path, digits_judge):
    out = tmp_path / "vae"
    result = train("vae_mlp", "digits", out=out, epochs=4, overrides={"input_shape": (8, 8, 1), "latent_dim": 2},
                   learning_rate=0.1, progress=False)
    history = json.loads((out / "history.json").read_text())["epochs"]
    assert history[-1]["val_loss"] < history[0]["val_loss"]  # the held-out −ELBO falls
    assert result["results"]["test_loss"] == pytest.approx(history[-1]["val_loss"])
    assert result["results"]["test_kl"] > 0
    assert sorted(p.name for p in out.glob("*.keras")) == ["vae_mlp.keras", "vae_mlp_decoder.keras",
                                                          "vae_mlp_encoder.keras"]
    assert len(list((out / "samples").glob("step-*.png"))) == 4
    decoder = keras.saving.load_model(out / "vae_mlp_decoder.keras")
    assert decoder.inputs[0].shape[-1] == 2 and decoder.outputs[0].shape[1:] == (8, 8, 1)
    record = json.loads((out / "train.json").read_text())
    assert record["procedure"] == "vae" and record["recipe_source"].startswith("Kingma & Welling")
    # the decoder converts as the registry's vae_mlp_decoder: its latent input drawn from the prior,
    # and its int8 file judged by a classifier of the same digits
    from keras_landmarks.export import convert

    manifest = convert(str(out / "vae_mlp_decoder.keras"), formats=("tflite",), quantize=("int8",),
                       judge=digits_judge, out=tmp_path / "exports", progress=False)
    assert manifest["input_kinds"]["latent"]["kind"] == "Latent" and manifest["config"]["latent_dim"] == 2
    assert manifest["artifacts"][0]["parity"]["passed"] and "frechet_real_halves" in manifest["artifacts"][0]["parity"]


def _scores():
    return RNG.normal(size=(6, 1)).astype("float32"), RNG.normal(size=(6, 1)).astype("float32")


@pytest.mark.parametrize("loss", ["non_saturating", "minimax", "wasserstein", "wasserstein_gp"])
def test_gan_losses_are_the_papers(loss):
    real, fake = _scores()
    gan = GAN(keras_landmarks.build("gan_mlp", **SMALL_GAN), keras_landmarks.build(
        "gan_mlp_discriminator", image_shape=(8, 8, 1), units=4, pieces=2), loss=loss, penalty=10.0)
    d = keras.ops.convert_to_numpy(gan.discriminator_loss(real, fake))
    g = keras.ops.convert_to_numpy(gan.generator_loss(fake))
    sigmoid = 1 / (1 + np.exp(-np.float64(real))), 1 / (1 + np.exp(-np.float64(fake)))
    if loss.startswith("wasserstein"):
        assert d == pytest.approx(fake.mean() - real.mean(), rel=1e-5)  # −(E f(x) − E f(G(z)))
        assert g == pytest.approx(-fake.mean(), rel=1e-5)
        return
    assert d == pytest.approx(-np.mean(np.log(sigmoid[0])) - np.mean(np.log(1 - sigmoid[1])), rel=1e-5)  # eq. 1
    if loss == "minimax":
        assert g == pytest.approx(np.mean(np.log(1 - sigmoid[1])), rel=1e-5)  # G minimises log(1 − D(G(z)))
    else:
        assert g == pytest.approx(-np.mean(np.log(sigmoid[1])), rel=1e-5)  # G maximises log D(G(z))


def test_gradient_penalty_of_a_linear_critic_is_its_norm_minus_one_squared():
    """f(x) = w·x has ‖∇f‖ = ‖w‖ everywhere, so the penalty is (‖w‖ − 1)² whatever the interpolates."""
    critic = keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Flatten(),
                               keras.layers.Dense(1, use_bias=False)])
    w = RNG.normal(size=(16, 1)).astype("float32")
    critic.layers[-1].kernel.assign(w)
    gan = GAN(keras_landmarks.build("gan_mlp", latent_dim=4, hidden_dims=(8,), image_shape=(4, 4, 1)), critic,
              loss="wasserstein_gp", penalty=10.0)
    real, fake = (RNG.normal(size=(5, 4, 4, 1)).astype("float32") for _ in range(2))
    penalty = float(gan.gradient_penalty(real, fake))
    assert penalty == pytest.approx((np.linalg.norm(w) - 1) ** 2, rel=1e-4)


def _wgan(loss, **options):
    generator = keras_landmarks.build("wgan", **SMALL_DCGAN)
    critic = keras_landmarks.build("wgan_critic" if loss == "wasserstein" else "wgan_gp_critic",
                                   image_shape=(8, 8, 1), filters=8)
    gan = GAN(generator, critic, loss=loss, latent="normal", **options)
    gan.compile(keras.optimizers.RMSprop(5e-3), keras.optimizers.RMSprop(5e-3))
    return gan


def test_wgan_clips_every_critic_weight_after_each_of_its_updates():
    gan = _wgan("wasserstein", critic_steps=5, clip=0.01)
    real = RNG.uniform(-1, 1, (5 * 4, 8, 8, 1)).astype("float32")  # five critic batches of four
    gan.train_step((real, np.zeros(20)))
    weights = [keras.ops.convert_to_numpy(w) for w in gan.discriminator.trainable_variables]
    assert all(np.abs(w).max() <= 0.01 + 1e-7 for w in weights)
    assert any(np.isclose(np.abs(w), 0.01).any() for w in weights)  # the clip was reached, not just respected
    assert int(gan.discriminator_optimizer.iterations) == 5 and int(gan.optimizer.iterations) == 1


def test_wgan_gp_takes_five_critic_steps_and_no_clipping():
    gan = _wgan("wasserstein_gp", critic_steps=5, penalty=10.0)
    real = RNG.uniform(-1, 1, (20, 8, 8, 1)).astype("float32")
    logs = gan.train_step((real, np.zeros(20)))
    assert np.isfinite(float(logs["d_loss"])) and np.isfinite(float(logs["g_loss"]))
    assert int(gan.discriminator_optimizer.iterations) == 5 and int(gan.optimizer.iterations) == 1
    assert max(np.abs(keras.ops.convert_to_numpy(w)).max() for w in gan.discriminator.trainable_variables) > 0.01


def test_gan_trains_through_train_and_resumes_bit_for_bit(tmp_path):
    """Two networks and two optimizers in one checkpoint: resumed from step 2, a run ends as it did."""
    common = dict(steps=4, batch_size=16, overrides=SMALL_GAN, progress=False, checkpoint_every=2)
    whole = train("gan_mlp", "digits", out=tmp_path / "whole", **common)
    train("gan_mlp", "digits", out=tmp_path / "part", **common)
    (tmp_path / "part" / "checkpoints" / "step-00000004.npz").unlink()  # as if killed after step 2's checkpoint
    for model in (tmp_path / "part").glob("*.keras"):
        model.unlink()
    resumed = train("gan_mlp", "digits", out=tmp_path / "part", resume=True, progress=False)
    assert resumed["resumed_from_step"] == 2
    for name in ("gan_mlp", "gan_mlp_discriminator"):
        a = keras.saving.load_model(tmp_path / "whole" / f"{name}.keras")
        b = keras.saving.load_model(tmp_path / "part" / f"{name}.keras")
        for x, y in zip(a.get_weights(), b.get_weights()):
            np.testing.assert_array_equal(x, y)
    assert set(whole["results"]) == {"test_d_real", "test_d_fake"}
    assert whole["artifacts"] == ["gan_mlp.keras", "gan_mlp_discriminator.keras"]
    assert sorted(p.name for p in (tmp_path / "whole" / "samples").glob("step-*.png")) == [
        "step-00000002.png", "step-00000004.png"]  # at the --checkpoint-every step and at the end


def test_dcgan_generator_and_discriminator_follow_the_paper():
    g = keras_landmarks.build("dcgan")
    d = keras_landmarks.build("dcgan_discriminator")
    assert [layer.output.shape[1] for layer in g.layers if layer.name.startswith(("project", "up"))
            and layer.name.endswith("_relu")] == [4, 8, 16, 32]
    assert g.get_layer("images").activation.__name__ == "tanh" and g.outputs[0].shape[1:] == (64, 64, 3)
    assert not any(isinstance(layer, keras.layers.BatchNormalization) and layer.name.startswith("down1")
                   for layer in d.layers)  # no BatchNorm on the discriminator's input layer
    assert all(layer.negative_slope == pytest.approx(0.2) for layer in d.layers
               if isinstance(layer, keras.layers.LeakyReLU))
    assert not any(isinstance(layer, keras.layers.BatchNormalization)
                   for layer in keras_landmarks.build("wgan_gp_critic").layers)
    kernel = keras.ops.convert_to_numpy(g.get_layer("up1").kernel)
    assert abs(kernel.std() - 0.02) < 0.002  # N(0, 0.02)


@pytest.mark.parametrize("argv, message", [
    (["train", "gan_mlp", "--data", "digits", "--loss", "hinge"],
     "Unknown loss 'hinge' for gan training. Allowed: non_saturating, minimax, wasserstein, wasserstein_gp."),
    (["train", "vae_mlp", "--data", "digits", "--precision", "mixed_float16"],
     "vae training runs in float32, not 'mixed_float16'."),
    (["train", "dcgan", "--data", "digits", "--strategy", "mirrored"],
     "gan training runs with --strategy none, not 'mirrored'."),
])
def test_bad_generative_options_get_one_line(tmp_path, capsys, argv, message):
    assert main([*argv, "--out", str(tmp_path / "run"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err
    assert not (tmp_path / "run").exists()


def test_gan_rejects_an_unknown_loss():
    with pytest.raises(ConfigError, match="Unknown GAN loss 'hinge'"):
        GAN(keras_landmarks.build("gan_mlp", **SMALL_GAN), keras_landmarks.build("gan_mlp_discriminator"), loss="hinge")


SMALL_STYLEGAN = {"resolution": 16, "latent_dim": 8, "dlatent_dim": 8, "mapping_layers": 2, "fmap_base": 64,
                  "fmap_max": 8, "channels": 1}


def _stylegan():
    from keras_landmarks.models.stylegan import StyleGAN

    model = keras_landmarks.build("stylegan", **SMALL_STYLEGAN)
    sg = StyleGAN(model)
    for layer in sg.synthesis.layers:  # non-zero noise strengths, so the noise inputs matter
        if isinstance(layer, keras_landmarks.layers.NoiseInjection):
            layer.strength.assign(np.full(layer.strength.shape, 0.3, "float32"))
    sg.truncation.average.assign(RNG.normal(size=(8,)).astype("float32"))
    return model, sg


def test_stylegan_truncation_pulls_styles_to_the_tracked_average():
    model, sg = _stylegan()
    z = RNG.normal(size=(3, 8)).astype("float32")
    w = keras.ops.convert_to_numpy(sg.dlatents(z))
    truncated = keras.ops.convert_to_numpy(sg.dlatents(z, truncation_psi=0.5, truncation_cutoff=2))
    average = keras.ops.convert_to_numpy(sg.truncation.average)
    np.testing.assert_allclose(truncated[:, :2], average + 0.5 * (w[:, :2] - average), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(truncated[:, 2:], w[:, 2:], rtol=1e-6, atol=1e-6)  # beyond the cutoff: untouched
    collapsed = keras.ops.convert_to_numpy(sg.generate(latents=z, truncation_psi=0.0, truncation_cutoff=6, seed=0,
                                                       noise={k: np.zeros_like(v) for k, v in sg.noise(3).items()}))
    np.testing.assert_allclose(collapsed[0], collapsed[1], atol=1e-5)  # ψ = 0 on every layer: one image
    # the exported graph truncates the same way when built with truncation_psi
    built = keras_landmarks.build("stylegan", **SMALL_STYLEGAN, truncation_psi=0.5, truncation_cutoff=2)
    built.get_layer("truncation").average.assign(average)
    built.set_weights(model.get_weights())
    noise = sg.noise(3, seed=4)
    expected = keras.ops.convert_to_numpy(sg.generate(latents=z, truncation_psi=0.5, truncation_cutoff=2, noise=noise))
    np.testing.assert_allclose(built({"latent": z, **noise}), expected, rtol=1e-4, atol=1e-5)


def test_stylegan_style_mixing_takes_the_second_latents_styles_from_the_crossover():
    _, sg = _stylegan()
    z1, z2 = (RNG.normal(size=(2, 8)).astype("float32") for _ in range(2))
    mixed = keras.ops.convert_to_numpy(sg.dlatents(z1, mix_latents=z2, mix_from=3))
    w1, w2 = (keras.ops.convert_to_numpy(sg.dlatents(z)) for z in (z1, z2))
    np.testing.assert_array_equal(mixed[:, :3], w1[:, :3])
    np.testing.assert_array_equal(mixed[:, 3:], w2[:, 3:])
    with pytest.raises(ValueError, match="mix_from must be a layer in 1..5"):
        sg.dlatents(z1, mix_latents=z2, mix_from=6)


def test_stylegan_noise_is_an_input_and_progressive_growing_blends_resolutions():
    model, sg = _stylegan()
    z = RNG.normal(size=(2, 8)).astype("float32")
    a, b = (keras.ops.convert_to_numpy(sg.generate(latents=z, seed=s)) for s in (0, 1))
    assert not np.allclose(a, b)  # other noise, other details
    np.testing.assert_array_equal(a, keras.ops.convert_to_numpy(sg.generate(latents=z, seed=0)))  # seeded
    sg.set_lod(2)  # 16×16 at lod 2: the 4×4 image, up-sampled (each 4×4 block one value)
    blocky = keras.ops.convert_to_numpy(sg.generate(latents=z, seed=0))[..., 0]
    blocks = blocky.reshape(2, 4, 4, 4, 4)
    assert np.allclose(blocks, blocks[:, :, :1, :, :1], atol=1e-6)
    assert model.count_params() - sum(int(np.prod(w.shape)) for w in model.trainable_weights) == 8 + 2  # w̄, lods


def test_stylegan_discriminator_appends_the_minibatch_deviation():
    d = keras_landmarks.build("stylegan_discriminator", resolution=8, fmap_base=32, fmap_max=8, channels=1)
    layer = d.get_layer("minibatch_stddev")
    assert layer.output.shape[-1] == layer.input.shape[-1] + 1 and layer.group_size == 4


def test_stylegan_progressive_growing_schedule_and_reals_at_the_level_of_detail():
    from keras_landmarks.models.stylegan import StyleGANTrainer

    g = keras_landmarks.build("stylegan", **SMALL_STYLEGAN)  # 16×16: levels 4, lod from 2 down to 0
    d = keras_landmarks.build("stylegan_discriminator", resolution=16, fmap_base=64, fmap_max=8, channels=1)
    trainer = StyleGANTrainer(g, d, progressive=True, total_steps=100)
    trainer.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3))
    lods = []
    for step in (0, 25, 50, 75, 99):
        trainer.optimizer.iterations.assign(step)
        lods.append(float(trainer.lod()))
    # two phases (8×8, then 16×16), each half fade, half stable
    assert lods == pytest.approx([2.0, 1.0, 1.0, 0.0, 0.0], abs=0.05)
    trainer.optimizer.iterations.assign(50)  # lod 1: the reals at 8×8, up-sampled back
    real = RNG.uniform(-1, 1, (4, 16, 16, 1)).astype("float32")
    shown = keras.ops.convert_to_numpy(trainer.prepare_step(real))
    pooled = real.reshape(4, 8, 2, 8, 2, 1).mean(axis=(2, 4))
    np.testing.assert_allclose(shown, pooled.repeat(2, 1).repeat(2, 2), rtol=1e-5, atol=1e-6)
    assert all(float(layer.lod) == pytest.approx(1.0) for layer in trainer.blends)  # G and D blend alike


def test_stylegan_trains_through_train_with_r1_and_mixing(tmp_path):
    small = {"resolution": 8, "fmap_base": 32, "fmap_max": 8, "latent_dim": 8, "dlatent_dim": 8, "mapping_layers": 2}
    result = train("stylegan_32", "digits", out=tmp_path, steps=6, batch_size=8, overrides=small, progress=False)
    assert result["procedure"] == "stylegan" and result["artifacts"] == ["stylegan_32.keras",
                                                                         "stylegan_discriminator.keras"]
    g = keras.saving.load_model(tmp_path / "stylegan_32.keras")
    assert np.any(keras.ops.convert_to_numpy(g.get_layer("truncation").average) != 0)  # w̄ was tracked
    assert list(tmp_path.glob("samples/style-step-*.png"))
    assert float(g.get_layer("stylegan_32_synthesis").get_layer("8x8_grow").lod) == 0.0  # grown to 8×8


def test_stylegan_wgan_gp_configuration_penalises_interpolates_and_drift():
    """The paper's CelebA-HQ loss: WGAN-GP (λ = 10) plus progressive GANs' drift 0.001 · E[D(x)²]. With the
    fakes equal to the reals every interpolate is the real image, so the penalty is deterministic."""
    import tensorflow as tf

    from keras_landmarks.models.stylegan import StyleGANTrainer

    small = {"resolution": 8, "fmap_base": 32, "fmap_max": 8, "latent_dim": 8, "dlatent_dim": 8, "mapping_layers": 2,
             "channels": 1}
    g = keras_landmarks.build("stylegan_32", **small)
    d = keras_landmarks.build("stylegan_discriminator", resolution=8, fmap_base=32, fmap_max=8, channels=1,
                              mbstd_group_size=2)
    trainer = StyleGANTrainer(g, d, loss="wasserstein_gp")
    real = tf.constant(RNG.uniform(-1, 1, (4, 8, 8, 1)).astype("float32"))
    with tf.GradientTape() as tape:
        tape.watch(real)
        scores = d(real, training=True)
    norms = np.sqrt(np.sum(tape.gradient(scores, real).numpy() ** 2, axis=(1, 2, 3)))
    expected = 10.0 * np.mean((norms - 1.0) ** 2) + 0.001 * np.mean(scores.numpy() ** 2)
    assert float(trainer.regularizer(real, real)) == pytest.approx(expected, rel=1e-4)
    trainer.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3))
    logs = trainer.train_step((real, np.zeros(4)))
    assert np.isfinite(float(logs["d_loss"])) and trainer.discriminator_loss(scores, scores) == 0.0
    with pytest.raises(ConfigError, match="Unknown StyleGAN loss 'minimax'"):
        StyleGANTrainer(g, d, loss="minimax")


@pytest.fixture(scope="module")
def digits_judge(tmp_path_factory):
    folder = tmp_path_factory.mktemp("judge")
    train("lenet5", "digits", out=folder, epochs=3, seed=0, progress=False)
    return folder


def test_int8_generator_is_gated_on_the_judges_frechet_distance(tmp_path, digits_judge):
    from keras_landmarks.export import convert
    from keras_landmarks.export.manifest import format_table

    train("dcgan", "digits", out=tmp_path / "run", steps=10, batch_size=32, overrides=SMALL_DCGAN, progress=False)
    manifest = convert(str(tmp_path / "run" / "dcgan.keras"), formats=("tflite",), quantize=("int8",),
                       judge=digits_judge, out=tmp_path / "exports", progress=False)
    int8 = manifest["artifacts"][0]["parity"]
    assert int8["passed"] and 0 <= int8["frechet_keras_vs_quantized"] <= int8["frechet_real_halves"], int8
    assert int8["samples"] == 179 and "lenet5 trained on digits" in int8["judge"]  # half the 359 test digits
    assert "Fréchet to Keras's samples" in format_table(manifest)


def test_sample_gate_fails_an_artifact_whose_samples_moved(digits_judge):
    from keras_landmarks.export.parity import SampleGate
    from keras_landmarks.export.signature import keras_outputs
    from keras_landmarks.inputs import input_kinds
    from keras_landmarks.registry import get_spec
    from keras_landmarks.training.judge import Judge

    spec = get_spec("dcgan")
    keras.utils.set_random_seed(0)
    model = keras_landmarks.build("dcgan", **SMALL_DCGAN)
    for layer in model.layers:  # wider than N(0, 0.02), so the samples differ from each other
        if layer.weights and "kernel" in layer.weights[0].path:
            layer.weights[0].assign(layer.weights[0] * 25.0)
    gate = SampleGate(Judge(digits_judge), input_kinds(model, spec.inputs(spec.full_config(**SMALL_DCGAN))))
    same = gate(model, lambda inputs: keras_outputs(model, inputs))
    assert same["passed"] and same["frechet_keras_vs_quantized"] == pytest.approx(0.0, abs=1e-3)
    inverted = gate(model, lambda inputs: {k: -v for k, v in keras_outputs(model, inputs).items()})
    assert not inverted["passed"] and inverted["frechet_keras_vs_quantized"] > inverted["frechet_real_halves"]


def test_the_toy_wgan_trains_on_points_through_train(tmp_path):
    result = train("wgan_toy", "gaussians8", out=tmp_path / "run", steps=3, batch_size=32,
                   overrides={"hidden_dim": 16}, progress=False)
    assert set(result["results"]) == {"test_critic_real", "test_critic_fake", "test_critic_gap"}
    assert (tmp_path / "run" / "samples" / "step-00000003.png").stat().st_size > 1000  # a scatter plot
    record = json.loads((tmp_path / "run" / "train.json").read_text())
    assert record["preprocessing"]["size"] == [] and record["options"]["recipe"]["options"]["penalty"] == 0.1
    from keras_landmarks.models.gan import GANTraining
    from keras_landmarks.training.procedures import Built

    gan = GAN(keras_landmarks.build("dcgan", **SMALL_DCGAN),
              keras_landmarks.build("dcgan_discriminator", image_shape=(8, 8, 1), filters=8))
    with pytest.raises(ConfigError, match=r"dcgan makes \(8, 8, 1\) images; the dataset holds examples of shape \(2,\)"):
        GANTraining().preprocessing(Built(gan, [], {}), np.zeros((4, 2), "float32"))
