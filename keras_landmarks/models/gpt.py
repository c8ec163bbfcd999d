"""GPT and GPT-2: decoder-only Transformer language models.

Radford, Narasimhan, Salimans, Sutskever. "Improving Language Understanding by Generative
Pre-Training." OpenAI, 2018. https://cdn.openai.com/research-covers/language-unsupervised/language_understanding_paper.pdf

Radford, Wu, Child, Luan, Amodei, Sutskever. "Language Models are Unsupervised Multitask Learners."
OpenAI, 2019. https://cdn.openai.com/better-language-models/language_models_are_unsupervised_multitask_learners.pdf

The model maximizes $\\sum_i \\log P(u_i \\mid u_{i-k}, \\ldots, u_{i-1})$ (GPT eq. 1) with

$$h_0 = U W_e + W_p, \\quad h_l = \\mathrm{block}(h_{l-1}), \\quad P(u) = \\mathrm{softmax}(h_n W_e^\\top)$$

(eq. 2): learned positions, causal self-attention blocks, and the output tied to the token embedding.
`gpt`: 12 post-LN layers, 768 wide, 12 heads, 512 positions, a 40,478-token BPE vocabulary. GPT-2
(§2.3) moves LayerNorm to the input of each sub-block, adds one after the last block, and uses
1,024 positions and a 50,257-token byte-level BPE: `gpt2` (117M as the paper counts, 124M exactly),
`gpt2_medium` (24 × 1024), `gpt2_large` (36 × 1280), `gpt2_xl` (48 × 1600). GELU is the tanh
approximation, as in the released code.

Inputs (int32, dynamic length): `token_ids`, `padding_mask` (1 for real tokens). Output: `logits`
(B, T, V). `make_generator(model)` returns the sampling generator: a graph-mode `tf.function` with
per-layer key/value caches, exportable as its own SavedModel signature.

Deviations:
- GPT-2 scales the initial weights of residual projections by $1/\\sqrt{N}$ (N residual layers); all
  weights here start from N(0, 0.02²) (positions N(0, 0.01²)).
"""

import keras

from keras_landmarks.layers.embeddings import PositionEmbedding
from keras_landmarks.models._decoding import generate_signature, sample_token
from keras_landmarks.layers.transformer import ReversibleEmbedding, TransformerEncoderBlock
from keras_landmarks.models._text import TOKEN_TEST_CONFIG, check_transformer_config, init, token_input
from keras_landmarks.inputs import PaddingMask, TokenIds
from keras_landmarks.registry import Paper, register

PAPER_GPT = Paper(
    title="Improving Language Understanding by Generative Pre-Training",
    authors="Alec Radford, Karthik Narasimhan, Tim Salimans, Ilya Sutskever",
    year=2018,
    venue="OpenAI technical report",
    url="https://cdn.openai.com/research-covers/language-unsupervised/language_understanding_paper.pdf",
    extends=("transformer",),
    adopted_by=("bert", "gpt2"),
)
PAPER_GPT2 = Paper(
    title="Language Models are Unsupervised Multitask Learners",
    authors="Alec Radford, Jeffrey Wu, Rewon Child, David Luan, Dario Amodei, Ilya Sutskever",
    year=2019,
    venue="OpenAI technical report",
    url="https://cdn.openai.com/better-language-models/language_models_are_unsupervised_multitask_learners.pdf",
    extends=("gpt", "resnet_v2 (pre-activation: LayerNorm before each sub-block)"),
    adopted_by=("GPT-3", "large language models"),
)


def GPT(
    *,
    vocabulary_size: int = 50257,
    num_layers: int = 12,
    num_heads: int = 12,
    hidden_dim: int = 768,
    intermediate_dim: int = 3072,
    dropout: float = 0.1,
    max_sequence_length: int = 1024,
    normalize_first: bool = True,
    layer_norm_epsilon: float = 1e-5,
    name: str = "gpt2",
):
    """GPT-2 (`normalize_first=True`: pre-LN plus a final LayerNorm) or GPT (`False`: post-LN)."""
    check_transformer_config(name, vocabulary_size=vocabulary_size, num_layers=num_layers, num_heads=num_heads,
                             hidden_dim=hidden_dim, intermediate_dim=intermediate_dim, dropout=dropout,
                             max_sequence_length=max_sequence_length)
    token_ids, padding_mask = token_input("token_ids"), token_input("padding_mask")
    token_embedding = ReversibleEmbedding(vocabulary_size, hidden_dim, embeddings_initializer=init(0.02),
                                          name="token_embedding")  # W_e
    tokens = token_embedding(token_ids)  # U W_e, (B, T, d)
    positions = PositionEmbedding(max_sequence_length, initializer=init(0.01), name="position_embedding")(tokens)  # W_p
    x = keras.layers.Add(name="embeddings_add")([tokens, positions])  # h_0
    x = keras.layers.Dropout(dropout, name="embeddings_dropout")(x)
    for i in range(num_layers):
        x = TransformerEncoderBlock(num_heads, intermediate_dim, causal=True, dropout=dropout, activation="gelu_tanh",
                                    layer_norm_epsilon=layer_norm_epsilon, normalize_first=normalize_first,
                                    kernel_initializer=init(0.02), name=f"transformer_layer_{i}")(
            x, padding_mask=padding_mask)  # h_l
    if normalize_first:
        x = keras.layers.LayerNormalization(epsilon=layer_norm_epsilon, name="final_norm")(x)
    logits = token_embedding(x, reverse=True)  # h_n W_e^T, (B, T, V)
    return keras.Model({"token_ids": token_ids, "padding_mask": padding_mask}, {"logits": logits}, name=name)


def make_generator(model, max_length=None):
    """A graph-mode sampler with key/value caches for a `gpt` / `gpt2` model.

    Returns `generate(prompt_ids, max_new_tokens, temperature, top_k, seed)`, a `tf.function` with an
    input signature (so it can be exported as a SavedModel signature): `prompt_ids` (B, P) int32, all
    prompts of the same length P >= 1; `temperature` (float32 scalar, > 0), `top_k` (int32 scalar;
    0 = the whole vocabulary), `seed` (int32, shape (2,)). Returns (B, P + max_new_tokens) int32: the
    prompt, then the sampled tokens. The prompt fills the caches in one pass; each new token then costs
    one position through every layer, inside one `tf.while_loop`.
    """
    import tensorflow as tf

    embedding = model.get_layer("token_embedding")
    positions = model.get_layer("position_embedding")
    blocks = [layer for layer in model.layers if isinstance(layer, TransformerEncoderBlock)]
    final = next((layer for layer in model.layers if layer.name == "final_norm"), None)
    max_length = max_length or positions.sequence_length
    heads = blocks[0].num_heads
    head_dim = blocks[0].self_attention.key_dim

    def forward(ids, caches, index):
        x = embedding(ids)
        x = x + positions(x, start_index=index)
        new_caches = []
        for block, cache in zip(blocks, caches):
            x, cache = block(x, key_value_cache=cache, cache_index=index)
            new_caches.append(cache)
        if final is not None:
            x = final(x)
        return embedding(x[:, -1:, :], reverse=True)[:, 0, :], new_caches  # next-token logits (B, V)

    @tf.function(input_signature=generate_signature())
    def generate(prompt_ids, max_new_tokens, temperature, top_k, seed):
        batch, prompt_length = tf.shape(prompt_ids)[0], tf.shape(prompt_ids)[1]
        tf.debugging.assert_greater(prompt_length, 0, message="the prompt must hold at least one token")
        tf.debugging.assert_less_equal(prompt_length + max_new_tokens, max_length,
                                       message=f"prompt + new tokens must fit in {max_length} positions")
        caches = [(tf.zeros([batch, heads, max_length, head_dim]), tf.zeros([batch, heads, max_length, head_dim]))
                  for _ in blocks]
        logits, caches = forward(prompt_ids, caches, 0)  # fill the caches with the whole prompt
        output = tf.TensorArray(tf.int32, size=max_new_tokens)

        def body(step, logits, caches, output):
            token = sample_token(logits, temperature, top_k, seed + step)  # (B,)
            output = output.write(step, token)
            logits, caches = forward(token[:, None], caches, prompt_length + step)
            return step + 1, logits, caches, output

        _, _, _, output = tf.while_loop(lambda step, *_: step < max_new_tokens, body,
                                        (tf.constant(0), logits, caches, output))
        new_tokens = tf.reshape(tf.transpose(output.stack()), [batch, max_new_tokens])  # (B, N)
        return {"token_ids": tf.concat([prompt_ids, new_tokens], axis=1)}

    return generate


def _inputs(config):
    return {"token_ids": TokenIds(config["vocabulary_size"], config["max_sequence_length"]),
            "padding_mask": PaddingMask()}


def _signatures(model):
    return {"generate": make_generator(model)}


def _io(config):
    return {"inputs": {"token_ids": (None, None), "padding_mask": (None, None)},
            "outputs": {"logits": (None, None, config["vocabulary_size"])}}


_GPT2 = {
    "gpt2": (dict(), 124_439_808, "12 layers × 768; the paper's Table 2 says 117M (an older count)."),
    "gpt2_medium": (dict(num_layers=24, num_heads=16, hidden_dim=1024, intermediate_dim=4096), 354_823_168,
                    "24 layers × 1024; Table 2: 345M."),
    "gpt2_large": (dict(num_layers=36, num_heads=20, hidden_dim=1280, intermediate_dim=5120), 774_030_080,
                   "36 layers × 1280; Table 2: 762M."),
    "gpt2_xl": (dict(num_layers=48, num_heads=25, hidden_dim=1600, intermediate_dim=6400), 1_557_611_200,
                "48 layers × 1600; Table 2: 1542M."),
}
for _name, (_config, _params, _source) in _GPT2.items():
    register(
        _name,
        family="gpt",
        builder=GPT,
        paper=PAPER_GPT2,
        config={**_config, "name": _name},
        params=_params,
        params_source="Backbone with tied output embedding, 50,257-token vocabulary, 1,024 positions: " + _source,
        task="causal_lm",
        io=_io,
        inputs=_inputs,
        signatures=_signatures,
        test_config={**TOKEN_TEST_CONFIG, "max_sequence_length": 16},
        description="Pre-LN decoder-only Transformer language model (GPT-2).",
    )

register(
    "gpt",
    family="gpt",
    builder=GPT,
    paper=PAPER_GPT,
    config={"vocabulary_size": 40478, "max_sequence_length": 512, "normalize_first": False, "name": "gpt"},
    params=116_534_784,
    params_source="12 post-LN layers × 768, 40,478-token BPE vocabulary, 512 positions, tied output "
    "(§4.1 'Model specifications'): 31,087,104 + 393,216 + 12 × 7,087,872.",
    task="causal_lm",
    io=_io,
    inputs=_inputs,
    signatures=_signatures,
    test_config={**TOKEN_TEST_CONFIG, "max_sequence_length": 16},
    description="Generative pre-training of a post-LN decoder-only Transformer.",
)
