"""The `keras-landmarks` command.

    keras-landmarks list [PATTERN] [--task TASK] [--family FAMILY] [--markdown]
    keras-landmarks info NAME [--set key=value ...] [--summary] [--json]
    keras-landmarks convert NAME_OR_PATH [--formats ...] [--quantize ...] [--out exports/] ...
    keras-landmarks verify exports/NAME
    keras-landmarks serve exports/NAME [--port 8501] [--host 127.0.0.1]
    keras-landmarks train NAME --data DATASET [--epochs N] [--out runs/NAME] [--resume] ...
    keras-landmarks reproduce CLAIM [--quick] [--seeds N] [--out claims/] | --list

Errors in what the user asked for (an unknown model, a bad option, a file that is not what it should
be) are printed as one line on stderr with exit code 2; a conversion that fails or misses its parity
gate, a `verify` that finds a changed, damaged or failing artifact, and an error of the machine (a
full disk) exit with code 1; Ctrl-C exits with 130. None prints a traceback.
"""

import argparse
import ast
import json
import sys
import textwrap

from keras_landmarks import index, options


def _load():
    """Import Keras and the models: only the commands that build, convert, check or serve need them."""
    import keras_landmarks

    keras_landmarks._load()


def parse_overrides(pairs, flag="--set"):
    """`["num_classes=10", "input_shape=(64, 64, 3)", "pooling=avg"]` → a dict of Python values."""
    from keras_landmarks.errors import ConfigError

    overrides = {}
    for pair in pairs or ():
        key, sep, text = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"Expected {flag} key=value. Received: {pair!r}")
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            value = text  # a bare word such as `avg` is a string
        overrides[key.strip()] = value
    return overrides


def model_table():
    """The README's model table, in Markdown, from the registry's index."""
    lines = [
        "| model | aliases | paper | year | reference parameters |",
        "|---|---|---|---|---:|",
    ]
    for name, data in index.load()["models"].items():
        paper = f"[{data['paper']['title']}]({data['paper']['url']})"
        params = f"{data['params']:,}" if data["params"] is not None else "—"
        lines.append(f"| `{name}` | {', '.join(data['aliases'])} | {paper} | {data['paper']['year']} | {params} |")
    return "\n".join(lines) + "\n"


def _cmd_list(args):
    if args.markdown:
        sys.stdout.write(model_table())
        return 0
    names = index.list_models(args.pattern, task=args.task, family=args.family)
    for name in names:
        data = index.info(name)
        params = f"{data['params']:,}" if data["params"] is not None else "-"
        print(f"{name:<18} {data['family']:<14} {data['paper']['year']}  {params:>13}  {data['paper']['title']}")
    if not names:
        print(f"No model matches {args.pattern!r}" + (f" with task={args.task!r}" if args.task else "")
              + (f" with family={args.family!r}" if args.family else "") + ".", file=sys.stderr)
    return 0


def _shape(shape):
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ")"


def _cmd_info(args):
    overrides = parse_overrides(args.set)
    data = dict(index.info(args.name))
    model = None
    if overrides or args.summary:
        _load()
        from keras_landmarks.export.signature import output_names
        from keras_landmarks.registry import build, paper_param_count

        model = build(args.name, **overrides)
        data["config"] = {**data["config"], **overrides}
        data["inputs"] = {t.name.split(":")[0]: list(t.shape) for t in model.inputs}
        structure = model.output if isinstance(model.output, dict) else dict(zip(output_names(model), model.outputs))
        data["outputs"] = {name: list(t.shape) for name, t in structure.items()}
        data["built_params"] = paper_param_count(model)
    if args.json:
        print(json.dumps(data, indent=2, default=str))
        return 0

    paper = data["paper"]
    wrap = lambda text: textwrap.fill(text, width=100, initial_indent="", subsequent_indent=" " * 11)  # noqa: E731
    aliases = f" (alias: {', '.join(data['aliases'])})" if data["aliases"] else ""
    print(f"{data['name']}{aliases}: {data['description']}")
    print(f"  family   {data['family']}, task {data['task']}")
    print(f"  paper    {wrap(paper['title'])}")
    print(f"           {wrap(paper['authors'])}")
    print(f"           {paper['venue']}, {paper['year']}. {paper['url']}")
    lineage = data["lineage"]
    print(f"  extends  {wrap(', '.join(lineage['extends']) or '-')}")
    print(f"  adopted  {wrap(', '.join(lineage['adopted_by']) or '-')}")
    if data["params"] is not None:
        print(f"  params   {data['params']:,} at the default config")
        print(f"           {wrap('counted as: ' + data['params_counted'])}")
        print(f"           {wrap('source: ' + data['params_source'])}")
    if "built_params" in data:
        print(f"  built    {data['built_params']:,} parameters with the config below")
    for kind in ("inputs", "outputs"):
        for i, (name, shape) in enumerate(data[kind].items()):
            print(f"  {kind if i == 0 else '':<8} {name} {_shape(shape)}")
    config = ", ".join(f"{k}={v!r}" for k, v in data["config"].items())
    print(f"  config   {wrap(config)}")
    print(f"  variants {wrap(', '.join(data['variants']))}")
    if data.get("training"):
        recipe = data["training"]
        procedure = recipe.get("procedure", "classification")
        head = "" if procedure == "classification" else f"{procedure} procedure, loss {recipe['loss']}: "
        print(f"  training {wrap(head + recipe['source'])}")
        if recipe.get("options"):
            options = ", ".join(f"{k}={v!r}" for k, v in recipe["options"].items())
            print(f"  options  {wrap(options + ' (train --option KEY=VALUE)')}")
    if args.summary:
        print()
        model.summary(line_length=110)
    return 0


def _csv(text):
    return tuple(part.strip() for part in text.split(",") if part.strip())


def _batch_size(text):
    if text == "dynamic":
        return None
    try:
        return int(text)
    except ValueError:
        from keras_landmarks.errors import ConfigError

        raise ConfigError(f"Invalid --batch-size {text!r}: expected a positive integer or 'dynamic'.") from None


def _private_tempdir():
    """Point this process's and its children's temporary files (TensorFlow's autograph sources, converter
    scratch) at a folder of their own, removed at exit; a folder a killed conversion (SIGKILL skips exit
    handlers) left behind is removed by the next conversion."""
    import atexit
    import os
    import pathlib
    import shutil
    import tempfile

    base = pathlib.Path(tempfile.gettempdir())
    for stale in base.glob("keras_landmarks_tmp.*"):
        pid = stale.name.rpartition(".")[2]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(stale, ignore_errors=True)
    path = base / f"keras_landmarks_tmp.{os.getpid()}"
    path.mkdir(exist_ok=True)
    tempfile.tempdir = os.environ["TMPDIR"] = str(path)
    atexit.register(shutil.rmtree, path, True)


def _alive(pid):
    import os

    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _cmd_convert(args):
    # What needs no model is checked before TensorFlow loads: the same checks `convert` runs.
    if not args.model.endswith(".keras"):
        index.resolve(args.model)
    options.check_format_names(args.formats, args.quantize, index.formats())
    options.batch_size(_batch_size(args.batch_size))
    options.version(args.version)
    options.opset(args.opset)
    options.tolerance(args.tolerance)
    options.positive("sequence_length", args.sequence_length)
    options.positive("bench_length", args.bench_length)
    _private_tempdir()
    _load()
    from keras_landmarks.export.manifest import format_table
    from keras_landmarks.export.pipeline import convert

    manifest = convert(
        args.model, formats=_csv(args.formats), quantize=_csv(args.quantize),
        representative_data=args.representative_data, judge=args.judge, overrides=parse_overrides(args.set),
        weights=args.weights, batch_size=_batch_size(args.batch_size), version=args.version, out=args.out,
        overwrite=args.overwrite,
        allow_flex=args.allow_flex, tolerance=args.tolerance, opset=args.opset, isolate=args.isolate,
        check_memory=not args.skip_memory_check, bench_length=args.bench_length, sequence_length=args.sequence_length,
    )
    print(format_table(manifest))
    print(f"written to {args.out.rstrip('/')}/{manifest['model']}/ (manifest.json lists every artifact)")
    return 0


def _cmd_train(args):
    index.resolve(args.model)
    _load()
    from keras_landmarks.training import train

    result = train(args.model, args.data, out=args.out, epochs=args.epochs, steps=args.steps,
                   batch_size=args.batch_size, optimizer=args.optimizer, learning_rate=args.learning_rate,
                   seed=args.seed, checkpoint_every=args.checkpoint_every, resume=args.resume,
                   overwrite=args.overwrite, precision=args.precision, strategy=args.strategy,
                   overrides=parse_overrides(args.set), weights=args.weights, data_dir=args.data_dir,
                   manual_dir=args.manual_dir, progress=not args.quiet, loss=args.loss,
                   recipe_options=parse_overrides(args.option, flag="--option") or None)
    metrics = ", ".join(f"{k} {v:.4f}" for k, v in result["results"].items())
    print(f"{result['options']['model']} on {result['options']['data']}: held-out {metrics}")
    if result.get("worker"):
        print(f"{result['worker']}: done (the chief writes the run to {result['out']}/)")
    else:
        print(f"written to {result['out']}/ (model: {result['model']}; convert it with `keras-landmarks convert "
              f"{result['model']}`)")
    return 0


def _cmd_verify(args):
    _load()
    from keras_landmarks.export.verification import verify

    results = verify(args.folder)
    print(f"{args.folder}: {len(results)} artifacts unchanged and in parity")
    return 0


def _cmd_serve(args):
    options.port(args.port)
    options.positive("max_request_mb", args.max_request_mb)
    options.positive("max_instances", args.max_instances)
    _load()
    from keras_landmarks.export.serving import serve

    serve(args.folder, port=args.port, host=args.host, max_request_bytes=args.max_request_mb << 20,
          max_instances=args.max_instances)
    return 0


def _cmd_reproduce(args):
    from keras_landmarks import claims

    if args.list or not args.claim:
        for name in claims.list_claims():
            claim = claims.get_claim(name)
            print(f"{name:<16} {claim.paper}: {claim.statement}")
        return 0
    claims.get_claim(args.claim)  # an unknown name: one line, before TensorFlow starts
    _load()
    result = claims.reproduce(args.claim, quick=args.quick, seeds=args.seeds, out=args.out, progress=not args.quiet)
    print(result["verdict"])
    print(f"written to {result['out']}/ (figure.png, result.json, verdict.md)")
    return 0


def _parser():
    parser = argparse.ArgumentParser(
        prog="keras-landmarks",
        description="Landmark deep-learning papers of 2010-2019 as faithful Keras models.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = commands.add_parser("reproduce", help="reproduce a paper's claim at small scale: figure, numbers, verdict")
    p.add_argument("claim", nargs="?", help="the claim (--list shows them)")
    p.add_argument("--list", action="store_true", help="list every claim with its paper")
    p.add_argument("--quick", action="store_true", help="the same protocol on less data: checks that it runs")
    p.add_argument("--seeds", type=int, help="how many seeds (default: the claim's, usually 3)")
    p.add_argument("--out", default="claims", help="output folder (default: claims/)")
    p.add_argument("--quiet", action="store_true", help="no progress lines")
    p.set_defaults(func=_cmd_reproduce)

    p = commands.add_parser("list", help="list the registered models")
    p.add_argument("pattern", nargs="?", default="*", help="shell-style pattern, e.g. 'resnet*'")
    p.add_argument("--task", help="only models of this task")
    p.add_argument("--family", help="only models of this family")
    p.add_argument("--markdown", action="store_true", help="print the README's model table")
    p.set_defaults(func=_cmd_list)

    p = commands.add_parser("info", help="show a model's paper, lineage, parameters and I/O")
    p.add_argument("name", help="model name or alias")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a config value (repeatable)")
    p.add_argument("--summary", action="store_true", help="build the model and print its layer summary")
    p.add_argument("--json", action="store_true", help="print the information as JSON")
    p.set_defaults(func=_cmd_info)

    p = commands.add_parser("convert", help="convert a model to SavedModel / TFLite / ONNX and prove parity")
    p.add_argument("model", metavar="NAME_OR_PATH", help="registry name, or a .keras file")
    table = index.formats()
    families = dict.fromkeys(family for family, _ in table.values())
    variants = dict.fromkeys(variant for _, variant in table.values())
    p.add_argument("--formats", default="saved_model,tflite,onnx",
                   help=f"comma-separated formats ({', '.join(table)}) or families ({', '.join(families)}); "
                   "default saved_model,tflite,onnx")
    p.add_argument("--quantize", default="none",
                   help=f"variants of the families named in --formats, comma-separated: {','.join(variants)} "
                   "(default none)")
    p.add_argument("--representative-data", metavar="PATH", help="int8 calibration data: .npz, one array per input")
    p.add_argument("--judge", metavar="RUN", help="gate a generator's quantized artifacts on the Fréchet distance of "
                   "this classifier run's features (a `train` folder on the same data, e.g. runs/lenet5)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a config value (repeatable)")
    p.add_argument("--weights", metavar="PATH", help="weights trained elsewhere: a keras.applications .h5 file, a "
                   "keras-hub preset folder or a Hugging Face .safetensors file")
    p.add_argument("--batch-size", default="dynamic", help="a fixed batch size, or 'dynamic' (default)")
    p.add_argument("--version", type=int, default=1, help="TF Serving / Triton version folder (default 1)")
    p.add_argument("--sequence-length", type=int, help="fix the sequence length of token models (with --batch-size 1 "
                   "the TFLite graph is fully static, as an edge app runs it)")
    p.add_argument("--bench-length", type=int, help="sequence length latency is measured at (default 128, or the "
                   "model's longest)")
    p.add_argument("--out", default="exports", help="output folder (default exports/)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing export of the same name")
    p.add_argument("--allow-flex", action="store_true", help="allow TensorFlow (Flex) ops in TFLite files")
    p.add_argument("--tolerance", type=float, help="replace the float/fp16 parity tolerance")
    p.add_argument("--opset", type=int, help="ONNX opset (default 17)")
    p.add_argument("--isolate", action=argparse.BooleanOptionalAction, default=None,
                   help="convert and check artifacts in child processes (default: for models over 256 MB)")
    p.add_argument("--skip-memory-check", action="store_true",
                   help="convert to TFLite even where the converter's estimated memory exceeds what is available")
    p.set_defaults(func=_cmd_convert)

    p = commands.add_parser("train", help="train a model on a dataset (checkpoints, --resume, TensorBoard, curves)")
    p.add_argument("model", metavar="NAME", help="registry name")
    p.add_argument("--data", required=True, metavar="DATASET",
                   help="a dataset of keras_landmarks.datasets (digits, mnist_5k, fashion_mnist, ...; "
                        "text_corpus for language models)")
    p.add_argument("--epochs", type=int, help="epochs (default: the model's recipe)")
    p.add_argument("--steps", type=int, help="train this many steps instead of whole epochs")
    p.add_argument("--batch-size", type=int, help="batch size (default: the model's recipe)")
    p.add_argument("--optimizer", help="sgd, adam, adamw, rmsprop or adagrad (default: the model's recipe)")
    p.add_argument("--loss", help="the objective where the paper's procedure offers several: a GAN's "
                                  "non_saturating, minimax, wasserstein or wasserstein_gp (default: the recipe's)")
    p.add_argument("--learning-rate", type=float, help="peak learning rate (default: the model's recipe)")
    p.add_argument("--seed", type=int, default=0, help="weights, dropout and data order follow from it (default 0)")
    p.add_argument("--checkpoint-every", type=int, metavar="N", help="also checkpoint every N steps (always at "
                   "each epoch end)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its newest checkpoint")
    p.add_argument("--overwrite", action="store_true", help="replace a run already in --out")
    p.add_argument("--precision", default="float32", help="float32 (default), mixed_float16 or mixed_bfloat16")
    p.add_argument("--strategy", default="none", help="none (default), mirrored (all local devices) or multi-worker "
                   "(TF_CONFIG)")
    p.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a config value (repeatable)")
    p.add_argument("--option", action="append", metavar="KEY=VALUE", help="change one of the recipe's procedure "
                   "options, e.g. segment=64 for Transformer-XL (`info` lists them; repeatable)")
    p.add_argument("--weights", metavar="PATH", help="start from weights trained elsewhere (fine-tuning): see convert")
    p.add_argument("--out", help="run folder (default runs/NAME)")
    p.add_argument("--data-dir", help="TFDS data folder (default ~/tensorflow_datasets)")
    p.add_argument("--manual-dir", help="folder of files a dataset reads (default <data-dir>/downloads/manual)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_cmd_train)

    p = commands.add_parser("verify", help="re-check an export folder: hashes and parity")
    p.add_argument("folder", help="an export folder, e.g. exports/resnet50")
    p.set_defaults(func=_cmd_verify)

    p = commands.add_parser("serve", help="serve an export's SavedModel over TF Serving's REST API (KServe)")
    p.add_argument("folder", help="an export folder, e.g. exports/resnet50")
    p.add_argument("--port", type=int, default=8501, help="HTTP port (default 8501, TF Serving's)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--max-request-mb", type=int, default=32, help="larger JSON bodies get HTTP 413 (default 32)")
    p.add_argument("--max-instances", type=int, default=1024, help="more examples per request get HTTP 413 "
                   "(default 1024)")
    p.set_defaults(func=_cmd_serve)
    return parser


def main(argv=None):
    args = _parser().parse_args(argv)
    from keras_landmarks.errors import ExportError, LandmarkError, TrainingError

    try:
        return args.func(args)
    except (ExportError, TrainingError) as error:
        print(f"keras-landmarks: {error}", file=sys.stderr)
        return 1
    except LandmarkError as error:
        print(f"keras-landmarks: error: {error}", file=sys.stderr)
        return 2
    except OSError as error:  # a full disk, a folder that became unwritable: the machine, not the request
        where = f": {error.filename}" if error.filename else ""
        print(f"keras-landmarks: {error.strerror or error}{where} (nothing half-written is left)", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("keras-landmarks: interrupted (nothing half-written is left)", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
