"""The generative papers' claims: the VAE's bound, GAN samples a classifier recognises, WGAN-GP's
critic against the clipped one, and StyleGAN's truncation and style mixing."""

import json
import time

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


def _gan_run(model, data, overrides, epochs, seed, judge, real_features, samples):
    """Train `model` by its registry recipe with the GAN procedure's `train_step`; the Fréchet distance
    (and the judge's confidence) of `samples` generated images before training and after each epoch."""
    import keras

    from keras_landmarks.models.gan import GANTraining
    from keras_landmarks.registry import get_spec
    from keras_landmarks.training.data import Stream, image_split
    from keras_landmarks.training.judge import frechet_distance, image_range, to_pixels

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
    value_range = image_range(gan.generator)

    def measure():
        fake = keras.ops.convert_to_numpy(gan.generate(samples, seed=seed + 7))
        features, probabilities = judge(to_pixels(fake, value_range))
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
    import keras

    from keras_landmarks.training import train
    from keras_landmarks.training.data import image_split
    from keras_landmarks.training.judge import Judge, frechet_distance, image_range, to_pixels

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
            grid = to_pixels(keras.ops.convert_to_numpy(gan.generate(64, seed=1234)), image_range(gan.generator))
            grid = grid[..., 0] / 255.0
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


# --- StyleGAN at 32×32: it trains, truncation trades variety for typicality, coarse styles decide ----


def _judged(judge, images, value_range):
    from keras_landmarks.training.judge import to_pixels

    features, probabilities = judge(to_pixels(keras_numpy(images), value_range))
    return features, probabilities


def keras_numpy(tensor):
    import keras

    return keras.ops.convert_to_numpy(tensor)


def _spread_of(features):
    """The features' spread: the root of the covariance's trace (their RMS distance to their mean)."""
    return float(np.sqrt(np.trace(np.cov(np.asarray(features, np.float64), rowvar=False))))


def stylegan_styles(folder, quick, seeds, progress):
    import keras

    from keras_landmarks import registry
    from keras_landmarks.models.stylegan import StyleGAN
    from keras_landmarks.training import train
    from keras_landmarks.training.judge import Judge, frechet_distance, to_pixels

    if quick:
        data, judge_epochs, samples, steps = "digits", 3, 120, 4
        overrides = {"resolution": 8, "fmap_base": 32, "fmap_max": 8, "latent_dim": 8, "dlatent_dim": 8,
                     "mapping_layers": 2}
    else:
        data, judge_epochs, samples, steps, overrides = "fashion_mnist", 3, 1000, STYLEGAN_STEPS, STYLEGAN_NARROW
    train("lenet5", data, out=folder / "judge", epochs=judge_epochs, seed=0, progress=False)
    judge = Judge(folder / "judge")
    real = judge.real_images("test")[:samples]
    real_features, real_probabilities = judge(real)
    psis = (1.0, 0.7, 0.5, 0.0)
    runs, shown = [], {}
    for seed in seeds:
        run = folder / "runs" / f"seed{seed}"
        keras.utils.set_random_seed(seed)
        untrained = StyleGAN(registry.build("stylegan_32", **overrides))
        started = time.perf_counter()
        train("stylegan_32", data, out=run, steps=steps, seed=seed, overrides=overrides, progress=False)
        minutes = (time.perf_counter() - started) / 60
        style = StyleGAN(keras.saving.load_model(run / "stylegan_32.keras"))
        rng = np.random.default_rng(100 + seed)
        z = rng.standard_normal((samples, style.latent_dim)).astype("float32")
        z2 = rng.standard_normal((samples, style.latent_dim)).astype("float32")
        noise = style.noise(samples, seed=200 + seed)
        value_range = (-1.0, 1.0)
        before = frechet_distance(_judged(judge, untrained.generate(latents=z, noise=noise), value_range)[0],
                                  real_features)
        row = {"seed": seed, "steps": steps, "minutes": round(minutes, 2), "frechet_untrained": round(before, 3),
               "truncation": []}
        for psi in psis:
            features, probabilities = _judged(judge, style.generate(latents=z, truncation_psi=psi, noise=noise),
                                              value_range)
            row["truncation"].append({"psi": psi, "frechet": round(frechet_distance(features, real_features), 3),
                                      "spread": round(_spread_of(features), 4),
                                      "confidence": round(float(probabilities.max(-1).mean()), 4)})
        crossover = style.num_layers // 2  # 32×32: layers 0-3 are the 4² and 8² ones, the paper's "coarse"
        labels_a = _judged(judge, style.generate(latents=z, noise=noise), value_range)[1].argmax(-1)
        labels_b = _judged(judge, style.generate(latents=z2, noise=noise), value_range)[1].argmax(-1)
        mixed = style.generate(latents=z, mix_latents=z2, mix_from=crossover, noise=noise)
        labels_mix = _judged(judge, mixed, value_range)[1].argmax(-1)
        differ = labels_a != labels_b
        row["mixing"] = {"crossover": crossover, "pairs_with_different_classes": int(differ.sum()),
                         "class_of_coarse_source": round(float(np.mean(labels_mix[differ] == labels_a[differ])), 4),
                         "class_of_fine_source": round(float(np.mean(labels_mix[differ] == labels_b[differ])), 4)}
        runs.append(row)
        if seed == seeds[0]:
            count = 10
            shown["truncation"] = np.concatenate([keras_numpy(style.generate(
                latents=z[:count], truncation_psi=psi, noise={k: v[:count] for k, v in noise.items()}))
                for psi in psis])
            few = {k: v[:count] for k, v in noise.items()}
            shown["mixing"] = np.concatenate([keras_numpy(style.generate(latents=z[:count], noise=few)),
                                              keras_numpy(style.generate(latents=z[:count], mix_latents=z2[:count],
                                                                         mix_from=crossover, noise=few)),
                                              keras_numpy(style.generate(latents=z2[:count], noise=few))])
        if progress:
            last = row["truncation"][0]["frechet"]
            print(f"stylegan-styles: seed {seed}: {steps} steps in {minutes:.1f} min, Fréchet {before:.1f} → "
                  f"{last:.1f}, mixing {row['mixing']}", flush=True)

    def trained(r):
        return r["truncation"][0]["frechet"] < r["frechet_untrained"]

    def narrows(r):  # less variety, and more typical: the judge more confident
        spreads = [t["spread"] for t in r["truncation"][:3]]
        confidences = [t["confidence"] for t in r["truncation"][:3]]
        return spreads[0] > spreads[1] > spreads[2] and confidences[2] > confidences[0]

    def coarse_decides(r):
        return r["mixing"]["class_of_coarse_source"] > r["mixing"]["class_of_fine_source"]

    held = all(trained(r) and narrows(r) and coarse_decides(r) for r in runs)

    plt = _pyplot()
    figure, axes = plt.subplots(1, 3, figsize=(17, 4.6), gridspec_kw={"width_ratios": [1.3, 1.0, 1.0]})

    def canvas(images, rows):
        images = to_pixels(images, (-1.0, 1.0))[..., 0] / 255.0
        h, w = images.shape[1:3]
        return images.reshape(rows, -1, h, w).transpose(0, 2, 1, 3).reshape(rows * h, -1)

    axes[0].imshow(canvas(shown["truncation"], len(psis)), cmap="gray")
    axes[0].set(title=f"truncation, seed {seeds[0]}: rows ψ = {', '.join(map(str, psis))}", xticks=[], yticks=[])
    axes[1].imshow(canvas(shown["mixing"], 3), cmap="gray")
    axes[1].set(title=f"mixing: z1 | z1's styles < layer {runs[0]['mixing']['crossover']}, z2's after | z2",
                xticks=[], yticks=[])
    for r in runs:
        axes[2].plot([t["psi"] for t in r["truncation"]], [t["spread"] for t in r["truncation"]], marker="o",
                     label=f"seed {r['seed']}")
    axes[2].axhline(_spread_of(real_features), color="gray", ls="--", label="real test images")
    axes[2].set(xlabel="truncation ψ", ylabel="feature spread (LeNet-5 F6)", title="variety against ψ")
    axes[2].legend()
    figure.tight_layout()
    figure.savefig(folder / "figure.png", dpi=100)
    plt.close(figure)

    def pick(key, psi=1.0):
        return [next(t[key] for t in r["truncation"] if t["psi"] == psi) for r in runs]

    mixing = [r["mixing"] for r in runs]
    summary = (f"after {steps} steps ({_spread([r['minutes'] for r in runs])} CPU minutes per seed) the Fréchet "
               f"distance to {data}'s test images fell from {_spread([r['frechet_untrained'] for r in runs])} "
               f"(untrained) to {_spread(pick('frechet'))} (real training vs test: "
               f"{frechet_distance(judge(judge.real_images('train')[:samples])[0], real_features):.2f}); the "
               f"samples' feature spread was {_spread(pick('spread'))} at ψ = 1, {_spread(pick('spread', 0.7))} "
               f"at 0.7 and {_spread(pick('spread', 0.5))} at 0.5 (real images "
               f"{_spread_of(real_features):.2f}), the judge's confidence {_spread(pick('confidence'))} at ψ = 1 "
               f"and {_spread(pick('confidence', 0.5))} at 0.5; a mix of z1's coarse styles with z2's fine ones "
               f"was judged z1's class in {_spread([m['class_of_coarse_source'] for m in mixing])} and z2's in "
               f"{_spread([m['class_of_fine_source'] for m in mixing])} of the pairs whose sources differ "
               f"(judge: LeNet-5 at {judge.accuracy:.1%}, {float(real_probabilities.max(-1).mean()):.2f} "
               f"confident on real images). Trained below untrained in {sum(map(trained, runs))}, spread "
               f"narrowing and the judge more confident as ψ falls in {sum(map(narrows, runs))}, coarse styles "
               f"deciding the class in "
               f"{sum(map(coarse_decides, runs))} of {len(runs)} seeds.")
    return {"numbers": {"data": data, "steps": steps, "samples": samples, "overrides": overrides,
                        "judge_accuracy": judge.accuracy, "real_spread": round(_spread_of(real_features), 4),
                        "runs": runs},
            "held": bool(held), "summary": summary}


STYLEGAN_STEPS = 2000
STYLEGAN_NARROW = {"fmap_base": 256, "fmap_max": 64}  # 64 maps at 4² and 8², 32 at 16², 16 at 32²: 0.25 s a step

register_claim(Claim(
    name="stylegan-styles",
    paper="Karras et al. (2018)",
    statement="the style-based generator trains, the truncation trick trades variety for typicality as ψ "
              "goes to 0 (§4), and the coarse styles (4² and 8²) carry the high-level aspects of an image while "
              "the finer ones carry details (§3.1, Fig. 3).",
    protocol=f"`stylegan_32` (32×32×1) at a quarter of its width (`--set fmap_base=256 --set fmap_max=64`: "
             f"854,324 generator weights; the registered width takes 3.3 s a step on two CPU cores, this one "
             f"0.25 s) trained by `keras-landmarks train` with its paper recipe (non-saturating "
             f"loss, R1 γ = 10, style mixing 0.9, progressive growing 8² → 32², Adam 1e-3, β = (0, 0.99), batches "
             f"of 32) for {STYLEGAN_STEPS:,} steps on fashion_mnist; a LeNet-5 judge trained by `train` on "
             f"fashion_mnist (3 epochs); 1,000 samples from fixed latents and noise at ψ = 1, 0.7, 0.5, 0 "
             f"against 1,000 test images; 1,000 pairs mixed at the crossover to the 16² layers.",
    rule="held if, for every seed, the trained generator's Fréchet distance (ψ = 1) is below the untrained one's, "
         "the samples' feature spread narrows from ψ = 1 to 0.7 to 0.5 while the judge's confidence at ψ = 0.5 "
         "exceeds that at ψ = 1, and among pairs judged different "
         "classes the mix is judged the coarse source's class more often than the fine source's.",
    run=stylegan_styles,
))
