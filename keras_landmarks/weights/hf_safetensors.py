"""`.safetensors` files with Hugging Face's tensor names into `bert_*` and `gpt2*` (numpy API: no torch).

Names and layouts (`transformers`' BertModel and GPT2Model, with or without the `bert.` /
`transformer.` prefix of the task models):

- BERT's linear layers store W as (out, in): our kernels are W^T, and the attention projections are
  reshaped to (hidden, heads, head_dim) / (heads, head_dim, hidden).
- GPT-2's `Conv1D` stores W as (in, out), with query, key and value concatenated in `c_attn`: split in
  three along the output axis, reshaped per head.
- Buffers (`position_ids`, GPT-2's `attn.bias` / `attn.masked_bias` causal masks) hold no weights;
  `lm_head.weight` is GPT-2's tied token embedding (checked equal, then skipped); BERT's pre-training
  heads (`cls.*`) are reported and not loaded.

The architecture comes from the tensor shapes; the number of heads and the GELU form from the
`config.json` beside the file where there is one (`num_attention_heads` / `n_head`, `hidden_act` /
`activation_function`), else from the model's options. Hugging Face's BERT computes GELU exactly
(`hidden_act="gelu"`), as ours does by default; `gelu_new` and `gelu_pytorch_tanh` are the tanh form.
"""

import json
import pathlib

import numpy as np

from keras_landmarks.weights import Mapping, Source, WeightsError, assign

TANH_GELU = ("gelu_new", "gelu_pytorch_tanh", "gelu_fast")


def _detect(path):
    return path.is_file() and path.suffix == ".safetensors"


def _models(spec):
    return spec.family in ("bert", "gpt")


def _open(path, what):
    """what() on the file, with one-line errors for a missing package or a damaged file."""
    try:
        import safetensors.numpy  # noqa: F401
    except ImportError:
        raise WeightsError("Reading .safetensors needs the safetensors package: pip install safetensors "
                           "(or keras_landmarks[weights]).", key="weights", value=str(path)) from None
    try:
        return what()
    except Exception as error:  # safetensors raises its own SafetensorError for a bad header or size
        raise WeightsError(f"{path} is not a readable safetensors file ({type(error).__name__}: {error}).",
                           key="weights", value=str(path)) from None


def read(path):
    """{name: np.ndarray} of a safetensors file; WeightsError for a damaged one."""
    def load():
        from safetensors.numpy import load_file

        return load_file(str(path))

    return _open(path, load)


def shapes(path):
    """{name: shape} from the file's header alone (the architecture, before the tensors are read)."""
    def header():
        from safetensors import safe_open

        with safe_open(str(path), framework="np") as f:
            return {name: tuple(f.get_slice(name).get_shape()) for name in f.keys()}

    return _open(path, header)


def _hf_config(path):
    config = path.parent / "config.json"
    if not config.is_file():
        return {}
    try:
        return json.loads(config.read_text())
    except ValueError:
        return {}


def _strip(tensors, prefix):
    return {(k[len(prefix):] if k.startswith(prefix) else k): v for k, v in tensors.items()}


def _overrides(spec, path, config):
    t = shapes(path)
    hf = _hf_config(path)
    if spec.family == "bert":
        t = _strip(t, "bert.")
        if "embeddings.word_embeddings.weight" not in t:
            raise WeightsError(f"{path} has no BERT embeddings (embeddings.word_embeddings.weight).", key="weights",
                               value=str(path))
        vocabulary, hidden = t["embeddings.word_embeddings.weight"]
        required = {"vocabulary_size": vocabulary, "hidden_dim": hidden,
                    "num_layers": 1 + max(int(k.split(".")[2]) for k in t if k.startswith("encoder.layer.")),
                    "intermediate_dim": t["encoder.layer.0.intermediate.dense.weight"][0],
                    "max_sequence_length": t["embeddings.position_embeddings.weight"][0],
                    "num_segments": t["embeddings.token_type_embeddings.weight"][0]}
        if "num_attention_heads" in hf:
            required["num_heads"] = hf["num_attention_heads"]
        act = hf.get("hidden_act", "gelu")
        return required, {"activation": "gelu_tanh" if act in TANH_GELU else "gelu"}
    t = _strip(t, "transformer.")
    if "wte.weight" not in t:
        raise WeightsError(f"{path} has no GPT-2 token embedding (wte.weight).", key="weights", value=str(path))
    vocabulary, hidden = t["wte.weight"]
    required = {"vocabulary_size": vocabulary, "hidden_dim": hidden,
                "num_layers": 1 + max(int(k.split(".")[1]) for k in t if k.startswith("h.")),
                "intermediate_dim": t["h.0.mlp.c_fc.weight"][1],
                "max_sequence_length": t["wpe.weight"][0]}
    if "n_head" in hf:
        required["num_heads"] = hf["n_head"]
    return required, {}


def _norm(m, source, target, values):
    for hf_name, ours in (("weight", "gamma"), ("bias", "beta")):
        old = {"weight": "gamma", "bias": "beta"}[hf_name]  # checkpoints converted from TF name them so
        name = f"{source}.{hf_name}" if m.has(f"{source}.{hf_name}") else f"{source}.{old}"
        values[f"{target}/{ours}"] = m.take(name)


def _bert(m, heads):
    values = {}
    head_dim = None
    values["token_embedding/embeddings"] = m.take("embeddings.word_embeddings.weight")
    values["position_embedding/embeddings"] = m.take("embeddings.position_embeddings.weight")
    values["segment_embedding/embeddings"] = m.take("embeddings.token_type_embeddings.weight")
    _norm(m, "embeddings.LayerNorm", "embeddings_norm", values)
    i = 0
    while m.has(f"encoder.layer.{i}.attention.self.query.weight"):
        src, dst = f"encoder.layer.{i}", f"transformer_layer_{i}"
        for part in ("query", "key", "value"):
            w = m.take(f"{src}.attention.self.{part}.weight")  # (out, in)
            hidden = w.shape[1]
            head_dim = hidden // heads
            values[f"{dst}/self_attention/{part}_kernel"] = w.T.reshape(hidden, heads, head_dim)
            values[f"{dst}/self_attention/{part}_bias"] = m.take(f"{src}.attention.self.{part}.bias").reshape(heads, head_dim)
        w = m.take(f"{src}.attention.output.dense.weight")
        values[f"{dst}/self_attention/output_kernel"] = w.T.reshape(heads, head_dim, w.shape[0])
        values[f"{dst}/self_attention/output_bias"] = m.take(f"{src}.attention.output.dense.bias")
        _norm(m, f"{src}.attention.output.LayerNorm", f"{dst}/self_attention_norm", values)
        values[f"{dst}/ffn_intermediate/kernel"] = m.take(f"{src}.intermediate.dense.weight").T
        values[f"{dst}/ffn_intermediate/bias"] = m.take(f"{src}.intermediate.dense.bias")
        values[f"{dst}/ffn_output/kernel"] = m.take(f"{src}.output.dense.weight").T
        values[f"{dst}/ffn_output/bias"] = m.take(f"{src}.output.dense.bias")
        _norm(m, f"{src}.output.LayerNorm", f"{dst}/ffn_norm", values)
        i += 1
    values["pooler/kernel"] = m.take("pooler.dense.weight").T
    values["pooler/bias"] = m.take("pooler.dense.bias")
    return values


def _gpt2(m, heads):
    values = {"token_embedding/embeddings": m.take("wte.weight"), "position_embedding/embeddings": m.take("wpe.weight")}
    i = 0
    while m.has(f"h.{i}.attn.c_attn.weight"):
        src, dst = f"h.{i}", f"transformer_layer_{i}"
        w, b = m.take(f"{src}.attn.c_attn.weight"), m.take(f"{src}.attn.c_attn.bias")  # (in, 3·out)
        hidden = w.shape[0]
        head_dim = hidden // heads
        for j, part in enumerate(("query", "key", "value")):
            values[f"{dst}/self_attention/{part}_kernel"] = w[:, j * hidden : (j + 1) * hidden].reshape(hidden, heads, head_dim)
            values[f"{dst}/self_attention/{part}_bias"] = b[j * hidden : (j + 1) * hidden].reshape(heads, head_dim)
        values[f"{dst}/self_attention/output_kernel"] = m.take(f"{src}.attn.c_proj.weight").reshape(heads, head_dim, hidden)
        values[f"{dst}/self_attention/output_bias"] = m.take(f"{src}.attn.c_proj.bias")
        _norm(m, f"{src}.ln_1", f"{dst}/self_attention_norm", values)
        _norm(m, f"{src}.ln_2", f"{dst}/ffn_norm", values)
        values[f"{dst}/ffn_intermediate/kernel"] = m.take(f"{src}.mlp.c_fc.weight")
        values[f"{dst}/ffn_intermediate/bias"] = m.take(f"{src}.mlp.c_fc.bias")
        values[f"{dst}/ffn_output/kernel"] = m.take(f"{src}.mlp.c_proj.weight")
        values[f"{dst}/ffn_output/bias"] = m.take(f"{src}.mlp.c_proj.bias")
        i += 1
    _norm(m, "ln_f", "final_norm", values)
    if m.has("lm_head.weight"):
        if not np.array_equal(m.take("lm_head.weight"), values["token_embedding/embeddings"]):
            raise WeightsError("lm_head.weight differs from wte.weight: GPT-2 ties them, and so does this model.",
                               key="weights", value="lm_head.weight")
    return values


def _load(model, spec, path):
    from keras_landmarks import registry

    tensors = read(path)
    _, config = registry.built_from(model) or (spec, spec.full_config())
    heads = config["num_heads"]
    name = pathlib.Path(path).name
    report = {"source": "safetensors", "file": str(path)}
    if spec.family == "bert":
        tensors = _strip(tensors, "bert.")
        heads_left = sorted(k for k in tensors if k.startswith("cls."))
        m = Mapping(tensors, name, ignore=(r"embeddings\.position_ids", r"cls\..*"))
        values = _bert(m, heads)
        if heads_left:
            report["not_loaded"] = f"{len(heads_left)} pre-training head tensors (cls.*)"
    else:
        m = Mapping(_strip(tensors, "transformer."), name, ignore=(r"h\.\d+\.attn\.(masked_)?bias",))
        values = _gpt2(m, heads)
    report["tensors"] = m.finish()
    assign(model, values, name)
    report["activation"] = config.get("activation", "gelu_tanh")
    return report


SOURCE = Source(name="safetensors", description="Hugging Face safetensors", detect=_detect,
                families=("bert", "gpt"), models=_models, overrides=_overrides, load=_load)
