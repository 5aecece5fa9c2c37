"""Tiny KerasHub causal LMs of every family vlpk supports, built offline.

A vlpk user starts a vision-language LM from a KerasHub LM preset. Tests
cannot download one, so these build each family's backbone from a config
(two layers, width 16), and `save_lm_preset` writes a GPT-2 or Llama preset
folder the way a KerasHub user would: a tokenizer learned here on a few
sentences (byte-level BPE for GPT-2, SentencePiece for Llama), a
`CausalLM` task, and `save_to_preset`.
"""

import collections
import io
import re

import keras_hub
import sentencepiece
from keras_hub.src.tokenizers.byte_pair_tokenizer import bytes_to_unicode

from tests.keras_hub_presets import _merge_pair

VOCABULARY_SIZE = 40
SIZES = dict(num_layers=2, hidden_dim=16, intermediate_dim=32)
# Grouped-query attention (2 query heads, 1 key/value head) where the family has it.
HEADS = dict(num_query_heads=2, num_key_value_heads=1)

CORPUS = (
    "what shape is in the image? a red circle.",
    "what color is the square? blue.",
    "is there a triangle in the image? yes.",
    "is there a circle in the image? no.",
    "describe the image. a small green square left of a large red circle.",
    "how many shapes are there? two.",
)


def build_language_model(family, vocabulary_size=VOCABULARY_SIZE, **overrides):
    """A tiny KerasHub causal-LM backbone of `family`, from a config."""
    kwargs = dict(vocabulary_size=vocabulary_size, **SIZES)
    if family == "gpt2":
        kwargs.update(num_heads=2, max_sequence_length=128)
    else:
        kwargs.update(HEADS)
    if family in ("gemma", "qwen3"):
        kwargs["head_dim"] = 8
    cls = FAMILIES[family]
    return cls(**{**kwargs, **overrides})


FAMILIES = {
    "gpt2": keras_hub.models.GPT2Backbone,
    "gemma": keras_hub.models.GemmaBackbone,
    "llama": keras_hub.models.LlamaBackbone,
    "mistral": keras_hub.models.MistralBackbone,
    "qwen": keras_hub.models.QwenBackbone,
    "qwen3": keras_hub.models.Qwen3Backbone,
}


def learn_gpt2_bpe(corpus=CORPUS, num_merges=48):
    """Learns a GPT-2 byte-level BPE vocabulary and merges from `corpus`.

    GPT-2's format: a word carries its leading space, and bytes are written
    as printable symbols (`bytes_to_unicode`: the space is `Ġ`), so
    `" cat"` starts as `Ġ c a t`. The vocabulary holds the 256 byte symbols
    (nothing is out of vocabulary), one token per merge and
    `<|endoftext|>`, GPT-2's start, end and stop token.
    """
    byte_symbols, unicode_symbols = bytes_to_unicode()
    symbol = dict(zip(byte_symbols, unicode_symbols))

    def symbols(word):
        return tuple(symbol[bytes([b])] for b in word.encode("utf-8"))

    pattern = r"'s|'t|'re|'ve|'m|'ll|'d| ?[^\W\d_]+| ?\d+| ?[^\s\w]+|\s+"
    words = collections.Counter(
        symbols(w) for text in corpus for w in re.findall(pattern, text)
    )
    merges = []
    for _ in range(num_merges):
        pairs = collections.Counter()
        for word, count in words.items():
            for pair in zip(word, word[1:]):
                pairs[pair] += count
        if not pairs:
            break
        best = max(pairs, key=lambda pair: (pairs[pair], pair))
        merges.append(best)
        words = collections.Counter(
            {_merge_pair(word, best): count for word, count in words.items()}
        )
    vocabulary = {}
    for token in list(unicode_symbols) + ["".join(p) for p in merges]:
        vocabulary.setdefault(token, len(vocabulary))
    vocabulary["<|endoftext|>"] = len(vocabulary)
    return vocabulary, [" ".join(pair) for pair in merges]


def llama_sentencepiece(corpus=CORPUS, vocab_size=60):
    """A SentencePiece model in Llama's layout: `<unk>` 0, `<s>` 1, `</s>` 2."""
    model = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(corpus),
        model_writer=model,
        vocab_size=vocab_size,
        hard_vocab_limit=False,
        model_type="unigram",
        character_coverage=1.0,
        byte_fallback=False,
        unk_id=0,
        bos_id=1,
        eos_id=2,
        pad_id=-1,
        num_threads=1,
        minloglevel=2,
    )
    return model.getvalue()


def save_lm_preset(path, family="gpt2", sequence_length=32):
    """Saves a tiny GPT-2 or Llama `CausalLM` (backbone, tokenizer) to `path`.

    Returns:
        The saved `keras_hub.models.CausalLM`.
    """
    if family == "gpt2":
        vocabulary, merges = learn_gpt2_bpe()
        tokenizer = keras_hub.models.GPT2Tokenizer(vocabulary=vocabulary, merges=merges)
        preprocessor_cls = keras_hub.models.GPT2CausalLMPreprocessor
        task_cls = keras_hub.models.GPT2CausalLM
    elif family == "llama":
        tokenizer = keras_hub.models.LlamaTokenizer(proto=llama_sentencepiece())
        preprocessor_cls = keras_hub.models.LlamaCausalLMPreprocessor
        task_cls = keras_hub.models.LlamaCausalLM
    else:
        raise ValueError(f"no tiny preset for {family!r}")
    backbone = build_language_model(family, tokenizer.vocabulary_size())
    preprocessor = preprocessor_cls(tokenizer, sequence_length=sequence_length)
    task = task_cls(backbone=backbone, preprocessor=preprocessor)
    task.save_to_preset(str(path))
    return task
