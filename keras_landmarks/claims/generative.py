"""The generative papers' claims: the VAE's bound, GAN samples a classifier recognises, and WGAN-GP's
critic against the clipped one."""

import json

import numpy as np

from keras_landmarks.claims import Claim, register_claim


def _spread(values):
    values = np.asarray(values, np.float64)
    return f"{values.mean():.2f} (range {values.min():.2f}–{values.max():.2f})"


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


# --- VAE: the bound improves with training and with J ----------------------------------------------


def vae_elbo(folder, quick, seeds, progress):
    from scipy.stats import norm

    import keras

    from keras_landmarks.training import train

    data, shape, epochs = ("digits", (8, 8, 1), 3) if quick else ("mnist_5k", (28, 28, 1), 50)
    curves = {2: [], 20: []}
    for latent_dim in curves:
        for seed in seeds:
            run = folder / "runs" / f"J{latent_dim}-seed{seed}"
            train("vae_mlp", data, out=run, epochs=epochs, seed=seed, progress=False,
                  overrides={"latent_dim": latent_dim, "input_shape": shape})
            history = json.loads((run / "history.json").read_text())["epochs"]
            curves[latent_dim].append([round(h["val_loss"], 3) for h in history])
            if progress:
                print(f"vae-elbo: J={latent_dim} seed {seed}: held-out -ELBO {curves[latent_dim][-1][-1]:.2f}",
                      flush=True)
    improves = all(c[-1] < c[0] for runs in curves.values() for c in runs)
    final = {j: [c[-1] for c in runs] for j, runs in curves.items()}
    held = improves and max(final[20]) < min(final[2])

    plt = _pyplot()
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4.2))
    for j, color in ((2, "tab:blue"), (20, "tab:red")):
        runs = np.asarray(curves[j])
        epochs_axis = np.arange(1, runs.shape[1] + 1)
        left.plot(epochs_axis, runs.mean(0), color=color, label=f"J = {j}")
        left.fill_between(epochs_axis, runs.min(0), runs.max(0), color=color, alpha=0.2)
    left.set(xlabel="epoch", ylabel="held-out −ELBO (nats per image)", title=f"vae_mlp on {data}")
    left.legend()
    decoder = keras.saving.load_model(folder / "runs" / f"J2-seed{seeds[0]}" / "vae_mlp_decoder.keras")
    side = 15
    grid = norm.ppf(np.linspace(0.05, 0.95, side))  # Fig. 4: z through the inverse Gaussian CDF
    z = np.array([[a, b] for b in grid[::-1] for a in grid], np.float32)
    images = keras.ops.convert_to_numpy(decoder(z))[..., 0]
    h, w = images.shape[1:3]
    canvas = images.reshape(side, side, h, w).transpose(0, 2, 1, 3).reshape(side * h, side * w)
    right.imshow(canvas, cmap="gray")
    right.set(title="learned 2-D manifold (J = 2; cf. Fig. 4)", xticks=[], yticks=[])
    figure.tight_layout()
    figure.savefig(folder / "figure.png", dpi=100)
    plt.close(figure)
    summary = (f"held-out −ELBO after the last of {epochs} epochs on {data}: J = 2 {_spread(final[2])}, J = 20 "
               f"{_spread(final[20])} nats per image; it fell from the first epoch in "
               f"{sum(c[-1] < c[0] for r in curves.values() for c in r)} of {2 * len(seeds)} runs.")
    return {"numbers": {"curves": {str(k): v for k, v in curves.items()}, "data": data, "epochs": epochs},
            "held": held, "summary": summary}


register_claim(Claim(
    name="vae-elbo",
    paper="Kingma & Welling (2013)",
    statement="the variational lower bound on held-out data improves with training and with more latent "
              "variables, J = 2 to J = 20 (their Fig. 2), and that a 2-D latent space learns a smooth "
              "manifold of digits (Fig. 4).",
    protocol="`vae_mlp` (784-500-J, tanh, Bernoulli decoder) trained by `keras-landmarks train` with its "
             "paper recipe (Adagrad 0.02, batches of 100, one sample of z) for 50 epochs on mnist_5k (4,000 "
             "training images), J = 2 and J = 20; the held-out −ELBO on its 1,000 test images after each "
             "epoch, with a fixed ε per image.",
    rule="held if, for both J, every seed's held-out −ELBO after the last epoch is below its value after the "
         "first, and J = 20's worst seed ends below J = 2's best.",
    run=vae_elbo,
))


# --- GAN / DCGAN: samples a classifier recognises, a Fréchet distance that falls -------------------


def frechet_distance(a, b):
    """‖μ_a − μ_b‖² + Tr(Σ_a + Σ_b − 2 (Σ_a Σ_b)^½) between two sets of feature vectors (rows)."""
    from scipy import linalg

    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root, _ = linalg.sqrtm(cov_a @ cov_b, disp=False)
    root = root.real
    return float(np.sum((mu_a - mu_b) ** 2) + np.trace(cov_a + cov_b - 2.0 * root))


class Judge:
    """A LeNet-5 trained on the real data by `train`: its 84-unit F6 features for the Fréchet distance,
    its softmax for the confidence."""

    def __init__(self, run):
        import keras

        from keras_landmarks.training.data import Preprocessing

        record = json.loads((run / "train.json").read_text())
        self.accuracy = record["results"]["accuracy"]
        model = keras.saving.load_model(run / "lenet5.keras")
        self.model = keras.Model(model.inputs, [model.get_layer("f6").output, model.outputs[0]])
        self.prep = Preprocessing.from_dict(record["preprocessing"])

    def __call__(self, images_0_255):
        import keras

        features, probabilities = self.model(self.prep(images_0_255), training=False)
        return keras.ops.convert_to_numpy(features), keras.ops.convert_to_numpy(probabilities)


def _gan_run(model, data, overrides, epochs, seed, judge, real_features, samples):
    """Train `model` by its registry recipe with the GAN procedure's `train_step`; the Fréchet distance
    (and the judge's confidence) of `samples` generated images before training and after each epoch."""
    import keras

    from keras_landmarks.models.gan import GANTraining, value_range
    from keras_landmarks.registry import get_spec
    from keras_landmarks.training.data import Stream, image_split

    spec = get_spec(model)
    recipe = spec.training(spec.full_config(**overrides)).replace(epochs=epochs)
    procedure = GANTraining()
    images, labels, _ = image_split(data, "train")
    keras.utils.set_random_seed(seed)
    stream = Stream(images, labels, procedure.images_per_step(recipe), seed)
    total = epochs * stream.steps_per_epoch
    built = procedure.build(spec, overrides, None, recipe, total, 10)
    prep = procedure.preprocessing(built, images)
    gan = built.trainer
    low, high = value_range(gan.generator)

    def measure():
        fake = keras.ops.convert_to_numpy(gan.generate(samples, seed=seed + 7))
        features, probabilities = judge((fake - low) / (high - low) * 255.0)
        return frechet_distance(features, real_features), float(probabilities.max(-1).mean())

    distances, confidences = [], []
    for step in range(0, total + 1, stream.steps_per_epoch):
        if step:
            gan.fit(stream.batches(step - stream.steps_per_epoch, step, prep), epochs=1,
                    steps_per_epoch=stream.steps_per_epoch, verbose=0)
        distance, confidence = measure()
        distances.append(round(distance, 3))
        confidences.append(round(confidence, 4))
    return distances, confidences, gan


def _gan_samples(model, full_overrides, full_epochs, quick_overrides, folder, quick, seeds, progress):
    from keras_landmarks.models.gan import value_range
    from keras_landmarks.training import train
    from keras_landmarks.training.data import image_split

    if quick:
        data, judge_epochs, samples, overrides, epochs = "digits", 3, 200, quick_overrides, 2
    else:
        data, judge_epochs, samples, overrides, epochs = "mnist_5k", 15, 1000, full_overrides, full_epochs
    train("lenet5", data, out=folder / "judge", epochs=judge_epochs, seed=0, progress=False)
    judge = Judge(folder / "judge")
    test_images, _, _ = image_split(data, "test")
    train_images, _, _ = image_split(data, "train")
    real_features, real_probabilities = judge(test_images[:samples].astype(np.float32))
    reference = frechet_distance(judge(train_images[:samples].astype(np.float32))[0], real_features)
    runs, grid = [], None
    for seed in seeds:
        distances, confidences, gan = _gan_run(model, data, overrides, epochs, seed, judge, real_features, samples)
        runs.append({"seed": seed, "frechet": distances, "confidence": confidences})
        if grid is None:
            low, high = value_range(gan.generator)
            grid = np.clip((keras_numpy(gan.generate(64, seed=1234)) - low) / (high - low), 0, 1)[..., 0]
        if progress:
            print(f"{model}: seed {seed}: Fréchet {distances[0]:.1f} → {distances[-1]:.1f}", flush=True)
    held = all(r["frechet"][-1] < r["frechet"][0] and r["frechet"][-1] < r["frechet"][1] for r in runs)

    plt = _pyplot()
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4.2))
    distances = np.asarray([r["frechet"] for r in runs])
    axis = np.arange(distances.shape[1])
    for r in runs:
        left.plot(axis, r["frechet"], marker="o", ms=3, label=f"seed {r['seed']}")
    left.axhline(reference, color="gray", ls="--", label="real training vs test images")
    left.set(xlabel="epoch", ylabel="Fréchet distance (LeNet-5 F6 features)", yscale="log",
             title=f"{model} samples vs {data} test images")
    left.legend()
    h, w = grid.shape[1:3]
    right.imshow(grid.reshape(8, 8, h, w).transpose(0, 2, 1, 3).reshape(8 * h, 8 * w), cmap="gray")
    right.set(title=f"{model}, seed {seeds[0]}, after {epochs} epochs", xticks=[], yticks=[])
    figure.tight_layout()
    figure.savefig(folder / "figure.png", dpi=100)
    plt.close(figure)

    first, last = distances[:, 0], distances[:, -1]
    confidence = [r["confidence"][-1] for r in runs]
    summary = (f"Fréchet distance {_spread(first)} untrained → {_spread(last)} after {epochs} epochs, the "
               f"judge's confidence on samples {_spread(confidence)} (real training images vs test: {reference:.2f}; "
               f"the judge, LeNet-5 at {judge.accuracy:.1%} test accuracy, is "
               f"{float(real_probabilities.max(-1).mean()):.2f} confident on real images).")
    numbers = {"data": data, "model": model, "epochs": epochs,
               "overrides": {k: list(v) if isinstance(v, tuple) else v for k, v in overrides.items()},
               "judge_accuracy": judge.accuracy, "real_vs_real": round(reference, 3), "samples": samples,
               "runs": runs}
    return {"numbers": numbers, "held": bool(held), "summary": summary}


def keras_numpy(tensor):
    import keras

    return keras.ops.convert_to_numpy(tensor)


_GAN_PROTOCOL = ("a LeNet-5 judge trained by `keras-landmarks train` on mnist_5k (15 epochs); {what}, by its "
                 "registry recipe and the GAN procedure's train_step, on mnist_5k's 4,000 training images; after "
                 "each epoch the Fréchet distance between the judge's F6 features of 1,000 samples and of the "
                 "1,000 test images.")
_GAN_RULE = ("held if, for every seed, the distance after the last epoch is below the untrained generator's and "
             "below its value after the first epoch.")

register_claim(Claim(
    name="gan-samples",
    paper="Goodfellow et al. (2014)",
    statement="the adversarial game trains the MLP generator to produce samples that resemble the data: here, "
              "that the Fréchet distance between a digit classifier's features of samples and of real images "
              "falls during training.",
    protocol=_GAN_PROTOCOL.format(what="`gan_mlp` and its maxout discriminator (SGD 0.1, momentum 0.5, batches "
                                       "of 100, the non-saturating loss) for 30 epochs"),
    rule=_GAN_RULE,
    run=lambda folder, quick, seeds, progress: _gan_samples(
        "gan_mlp", {}, 30, {"image_shape": (8, 8, 1), "hidden_dims": (64, 64)}, folder, quick, seeds, progress),
))
register_claim(Claim(
    name="dcgan-samples",
    paper="Radford et al. (2015)",
    statement="the all-convolutional generator with BatchNorm trains stably and makes samples that resemble the "
              "data: here, that the Fréchet distance between a digit classifier's features of samples and of "
              "real images falls during training.",
    protocol=_GAN_PROTOCOL.format(what="`dcgan` at 32×32×1 with 32 base filters and its discriminator (Adam "
                                       "2e-4, β1 0.5, batches of 128) for 15 epochs"),
    rule=_GAN_RULE,
    run=lambda folder, quick, seeds, progress: _gan_samples(
        "dcgan", {"image_shape": (32, 32, 1), "filters": 32}, 15, {"image_shape": (8, 8, 1), "filters": 8},
        folder, quick, seeds, progress),
))


# --- WGAN vs WGAN-GP on eight Gaussians -------------------------------------------------------------


def _toy_run(method, points, iterations, seed):
    import keras

    import keras_landmarks
    from keras_landmarks.models.gan import GAN

    keras.utils.set_random_seed(seed)
    generator, critic = keras_landmarks.build("wgan_toy"), keras_landmarks.build("wgan_toy_critic")
    if method == "clip":  # WGAN Algorithm 1
        gan = GAN(generator, critic, loss="wasserstein", critic_steps=5, clip=0.01, latent="normal", seed=seed)
        gan.compile(keras.optimizers.RMSprop(5e-5), keras.optimizers.RMSprop(5e-5))
    else:  # WGAN-GP Algorithm 1, with the toy code's λ = 0.1
        gan = GAN(generator, critic, loss="wasserstein_gp", critic_steps=5, penalty=0.1, latent="normal", seed=seed)
        gan.compile(keras.optimizers.Adam(1e-4, beta_1=0.5, beta_2=0.9),
                    keras.optimizers.Adam(1e-4, beta_1=0.5, beta_2=0.9))
    rng = np.random.default_rng(seed)
    batch = 256 * 5
    index = rng.integers(0, len(points), (iterations, batch))
    import tensorflow as tf

    dataset = tf.data.Dataset.from_tensor_slices(points[index]).map(lambda x: (x, tf.zeros((batch,))))
    gan.fit(dataset, epochs=1, verbose=0)
    kernels = np.concatenate([keras.ops.convert_to_numpy(w).ravel() for w in critic.trainable_variables
                              if w.path.endswith("kernel")])
    samples = keras.ops.convert_to_numpy(gan.generate(2000, seed=seed + 11))
    return kernels, samples


def wgan_toy(folder, quick, seeds, progress):
    from keras_landmarks import datasets
    from keras_landmarks.datasets.toy import SPREAD, SHRINK, gaussians8_centers

    import tensorflow_datasets as tfds

    points, _ = tfds.as_numpy(datasets.load("gaussians8", "train", batch_size=-1, as_supervised=True))
    iterations = 30 if quick else 3000
    centers = gaussians8_centers()
    radius = 5 * SPREAD / SHRINK
    numbers, held, shown = {"iterations": iterations, "runs": []}, True, {}
    for seed in seeds:
        row = {"seed": seed}
        for method in ("clip", "gp"):
            kernels, samples = _toy_run(method, points, iterations, seed)
            extreme = 0.01 if method == "clip" else np.abs(kernels).max()
            at_extremes = float(np.mean(np.abs(kernels) >= 0.99 * extreme))
            distances = np.linalg.norm(samples[:, None] - centers[None], axis=-1)
            nearest = distances.min(1)
            covered = int(sum(np.mean((distances.argmin(1) == k) & (nearest < radius)) >= 0.02 for k in range(8)))
            row[method] = {"at_extremes": round(at_extremes, 4), "mean_distance": round(float(nearest.mean()), 4),
                           "modes_covered": covered}
            if seed == seeds[0]:
                shown[method] = (kernels, samples)
        held &= row["clip"]["at_extremes"] >= 0.5 and row["gp"]["at_extremes"] <= 0.05
        numbers["runs"].append(row)
        if progress:
            print(f"wgan-gp-toy: seed {seed}: {row}", flush=True)

    plt = _pyplot()
    figure, axes = plt.subplots(1, 4, figsize=(18, 4))
    for ax, method in zip(axes[:2], ("clip", "gp")):
        kernels = shown[method][0]
        ax.hist(kernels, bins=80, color="tab:red" if method == "clip" else "tab:blue")
        ax.set(title=f"critic weights, {'weight clipping (c = 0.01)' if method == 'clip' else 'gradient penalty'}",
               xlabel="value", yscale="log")
    for ax, method in zip(axes[2:], ("clip", "gp")):
        samples = shown[method][1]
        ax.scatter(points[:2000, 0], points[:2000, 1], s=2, color="lightgray", label="data")
        ax.scatter(samples[:, 0], samples[:, 1], s=2, color="tab:red" if method == "clip" else "tab:blue",
                   label="samples")
        ax.set(title=f"samples after {iterations} generator steps ({method})", xlim=(-2.2, 2.2), ylim=(-2.2, 2.2))
        ax.legend(loc="upper right", markerscale=4)
    figure.tight_layout()
    figure.savefig(folder / "figure.png", dpi=100)
    plt.close(figure)

    def values(method, key):
        return [r[method][key] for r in numbers["runs"]]

    summary = (f"after {iterations} generator steps, {_spread(values('clip', 'at_extremes'))} of the clipped "
               f"critic's weights lie within 1 % of ±c, against {_spread(values('gp', 'at_extremes'))} of the "
               f"penalised critic's within 1 % of its largest magnitude; samples' mean distance to the nearest "
               f"mode {_spread(values('clip', 'mean_distance'))} (clipping) and "
               f"{_spread(values('gp', 'mean_distance'))} (penalty), modes covered "
               f"{_spread(values('clip', 'modes_covered'))} and {_spread(values('gp', 'modes_covered'))} of 8.")
    return {"numbers": numbers, "held": bool(held), "summary": summary}


register_claim(Claim(
    name="wgan-gp-toy",
    paper="Gulrajani et al. (2017)",
    statement="weight clipping pushes the critic's weights to the two ends of the clipping range, which the "
              "gradient penalty does not (their Fig. 1b), and the penalised WGAN trains stably.",
    protocol="the toy pair of the paper's code (`wgan_toy`, `wgan_toy_critic`: 3 × 512 ReLU) on "
             "`gaussians8`, five critic steps of 256 points per generator step, 3,000 generator steps; "
             "clipping: RMSProp 5e-5, c = 0.01; penalty: Adam 1e-4, β = (0.5, 0.9), λ = 0.1 (the toy code's).",
    rule="held if, for every seed, at least half of the clipped critic's kernel weights lie within 1 % of ±c "
         "and at most 5 % of the penalised critic's lie within 1 % of its largest magnitude.",
    run=wgan_toy,
))
