"""Tiny KerasHub CLIP and SigLIP presets, built and saved without network.

A vlpk user starts from a KerasHub `CLIPBackbone` or `SigLIPBackbone` preset
and its preprocessor. Tests cannot download one, so these builders make the
same kind of preset folder from scratch, the way a KerasHub user would: build
the backbone from a config, build the tokenizer from a vocabulary learned here
on a few captions, and call `save_to_preset` on the backbone and on the
preprocessor with one folder. The folder then loads with KerasHub's own
`from_preset`, as a downloaded preset would.

- CLIP's tokenizer is byte-level BPE. `learn_clip_bpe` learns its vocabulary
  and merges in the format `keras_hub.models.CLIPTokenizer` reads.
- SigLIP's tokenizer is SentencePiece. `train_sentencepiece` trains a model
  in memory with `sentencepiece.SentencePieceTrainer`.

The session fixtures `keras_hub_clip_preset` and `keras_hub_siglip_preset`
(in `tests/conftest.py`) build each preset once per test session.
"""

import collections
import dataclasses
import io
import re
import time

import keras_hub
import numpy as np
import sentencepiece
from keras_hub.src.tokenizers.byte_pair_tokenizer import bytes_to_unicode

# Lower case and without digits: KerasHub's CLIP tokenizer lower-cases and
# splits digits differently in its eager (Hugging Face `tokenizers`) and its
# `tf.data` (TensorFlow) path, so captions like these tokenize the same in both.
CAPTIONS = (
    "a red square on a white background",
    "a blue circle on a black background",
    "two green triangles next to a red square",
    "a small blue square in the corner",
    "a large red circle above a green line",
    "three small circles in a row",
    "a photo of a cat on a red sofa",
    "a photo of a dog on the green grass",
    "a white cat next to a black dog",
    "a blue triangle inside a large square",
)
# The sample batch: three captions from the corpus and one with unseen words
# and punctuation, which the tokenizers split into smaller pieces.
SAMPLE_CAPTIONS = CAPTIONS[:3] + ("a purple hexagon, tilted!",)
IMAGE_SIZE = 16
SEQUENCE_LENGTH = 16

CLIP_START_TOKEN = "<|startoftext|>"
CLIP_END_TOKEN = "<|endoftext|>"
END_OF_WORD = "</w>"
# OpenAI's CLIP image statistics, as in the released CLIP presets.
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


@dataclasses.dataclass(frozen=True)
class TinyPreset:
    """A saved tiny preset and the objects it was saved from.

    The objects are shared by every test in the session: use them to compare
    against, and load a fresh copy from `path` for anything that trains.

    Attributes:
        path: the preset folder (a string), written by `save_to_preset`.
        backbone: the backbone that was saved.
        preprocessor: the preprocessor that was saved.
        captions: `SAMPLE_CAPTIONS`, one per sample image.
        images: sample images, `uint8`, shape `(4, 24, 20, 3)` (not square,
            and not the model's size, so the image converter resizes).
        build_seconds: how long building and saving took.
    """

    path: str
    backbone: keras_hub.models.Backbone
    preprocessor: keras_hub.models.Preprocessor
    captions: tuple
    images: np.ndarray
    build_seconds: float

    @property
    def tokenizer(self):
        return self.preprocessor.tokenizer

    def inputs(self, preprocessor=None):
        """The backbone inputs the preprocessor makes of the sample batch."""
        preprocessor = preprocessor or self.preprocessor
        return preprocessor({"images": self.images, "prompts": list(self.captions)})


def sample_images(count=4, height=24, width=20, seed=0):
    """Random `uint8` RGB images, as a decoder would give them."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(count, height, width, 3), dtype="uint8")


# --- CLIP: byte-level BPE -------------------------------------------------------


def clip_words(text):
    """Splits text into words as CLIP's tokenizer does before BPE.

    Lower case; runs of letters, single digits and runs of other non-space
    characters are words (the pattern of `keras_hub.models.CLIPTokenizer`).
    """
    return re.findall(r"'s|'t|'re|'ve|'m|'ll|'d|[^\W\d_]+|\d|[^\s\w]+", text.lower())


def learn_clip_bpe(corpus, num_merges=64):
    """Learns a CLIP byte-level BPE vocabulary and merge list from `corpus`.

    The format is that of OpenAI's CLIP (and `keras_hub.models.CLIPTokenizer`):
    a word's UTF-8 bytes are written as printable characters
    (`bytes_to_unicode`), and its last symbol carries the end-of-word suffix
    `</w>`, so `"cat"` starts as `c a t</w>`. Each step merges the most
    frequent adjacent pair of symbols (ties broken by the pair itself, so the
    result does not depend on dictionary order) and records it as `"a b"`.

    The vocabulary holds the 256 byte symbols, the same 256 with `</w>`, one
    token per merge, then `<|startoftext|>` and `<|endoftext|>`. The end token
    must have the largest id: `CLIPBackbone` pools the text at
    `argmax(token_ids)`.

    Args:
        corpus: an iterable of strings.
        num_merges: the most merges to learn; fewer when no pair is left.

    Returns:
        `(vocabulary, merges)`: a dict from token to id, and a list of
        `"left right"` strings, in the order they were learned.
    """
    byte_symbols, unicode_symbols = bytes_to_unicode()
    symbol_of_byte = dict(zip(byte_symbols, unicode_symbols))

    def symbols(word):
        chars = [symbol_of_byte[bytes([b])] for b in word.encode("utf-8")]
        chars[-1] += END_OF_WORD
        return tuple(chars)

    words = collections.Counter(symbols(w) for text in corpus for w in clip_words(text))
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

    tokens = (
        list(unicode_symbols)
        + [s + END_OF_WORD for s in unicode_symbols]
        + ["".join(pair) for pair in merges]
        + [CLIP_START_TOKEN, CLIP_END_TOKEN]
    )
    vocabulary = {}
    for token in tokens:
        vocabulary.setdefault(token, len(vocabulary))
    return vocabulary, [" ".join(pair) for pair in merges]


def _merge_pair(word, pair):
    merged, i = [], 0
    while i < len(word):
        if word[i : i + 2] == pair:
            merged.append(word[i] + word[i + 1])
            i += 2
        else:
            merged.append(word[i])
            i += 1
    return tuple(merged)


def clip_tokenizer(corpus=CAPTIONS, num_merges=64):
    """A `CLIPTokenizer` with a BPE vocabulary learned on `corpus`."""
    vocabulary, merges = learn_clip_bpe(corpus, num_merges)
    return keras_hub.models.CLIPTokenizer(vocabulary=vocabulary, merges=merges)


def _tiny_encoders(vision_cls, text_cls, vocabulary_size, hidden_dim):
    """One-layer, two-head vision and text encoders of a KerasHub family."""
    sizes = dict(
        hidden_dim=hidden_dim,
        num_layers=1,
        num_heads=2,
        intermediate_dim=2 * hidden_dim,
    )
    vision = vision_cls(patch_size=4, image_shape=(IMAGE_SIZE, IMAGE_SIZE, 3), **sizes)
    text = text_cls(
        vocabulary_size=vocabulary_size,
        embedding_dim=hidden_dim,
        max_sequence_length=SEQUENCE_LENGTH,
        **sizes,
    )
    return vision, text


def build_clip_preset(path, hidden_dim=16, projection_dim=8):
    """Builds a tiny KerasHub CLIP model and preprocessor and saves them.

    Args:
        path: the preset folder to write (`str` or `os.PathLike`).
        hidden_dim: the width of both encoders.
        projection_dim: the size of the shared embedding space.

    Returns:
        A `TinyPreset`.
    """
    start = time.perf_counter()
    tokenizer = clip_tokenizer()
    vision_encoder, text_encoder = _tiny_encoders(
        keras_hub.models.CLIPVisionEncoder,
        keras_hub.models.CLIPTextEncoder,
        tokenizer.vocabulary_size(),
        hidden_dim,
    )
    backbone = keras_hub.models.CLIPBackbone(
        vision_encoder=vision_encoder,
        text_encoder=text_encoder,
        projection_dim=projection_dim,
    )
    image_converter = keras_hub.layers.CLIPImageConverter(
        image_size=(IMAGE_SIZE, IMAGE_SIZE),
        scale=[1 / (255 * s) for s in CLIP_STD],
        offset=[-m / s for m, s in zip(CLIP_MEAN, CLIP_STD)],
        interpolation="bicubic",
    )
    preprocessor = keras_hub.models.CLIPPreprocessor(
        tokenizer=tokenizer,
        image_converter=image_converter,
        sequence_length=SEQUENCE_LENGTH,
    )
    return _save(path, backbone, preprocessor, start)


# --- SigLIP: SentencePiece -------------------------------------------------------


def train_sentencepiece(corpus=CAPTIONS, vocab_size=64):
    """Trains a SentencePiece unigram model on `corpus`, in memory.

    The special pieces follow SigLIP's tokenizer (T5's): `<pad>` 0, `</s>` 1,
    `<unk>` 2, no start token. `SigLIPTokenizer` pads with `</s>`.

    Args:
        corpus: an iterable of strings.
        vocab_size: the most pieces; a tiny corpus may give fewer.

    Returns:
        The serialized model proto (`bytes`).
    """
    model = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(corpus),
        model_writer=model,
        vocab_size=vocab_size,
        hard_vocab_limit=False,
        model_type="unigram",
        character_coverage=1.0,
        pad_id=0,
        pad_piece="<pad>",
        eos_id=1,
        eos_piece="</s>",
        unk_id=2,
        unk_piece="<unk>",
        bos_id=-1,
        num_threads=1,
        minloglevel=2,
    )
    return model.getvalue()


def build_siglip_preset(path, hidden_dim=16):
    """Builds a tiny KerasHub SigLIP model and preprocessor and saves them.

    Args:
        path: the preset folder to write (`str` or `os.PathLike`).
        hidden_dim: the width of both encoders, which is also the size of the
            shared embedding space (SigLIP's vision tower has no projection).

    Returns:
        A `TinyPreset`.
    """
    start = time.perf_counter()
    tokenizer = keras_hub.models.SigLIPTokenizer(proto=train_sentencepiece())
    vision_encoder, text_encoder = _tiny_encoders(
        keras_hub.models.SigLIPVisionEncoder,
        keras_hub.models.SigLIPTextEncoder,
        tokenizer.vocabulary_size(),
        hidden_dim,
    )
    backbone = keras_hub.models.SigLIPBackbone(
        vision_encoder=vision_encoder, text_encoder=text_encoder
    )
    image_converter = keras_hub.layers.SigLIPImageConverter(
        image_size=(IMAGE_SIZE, IMAGE_SIZE),
        scale=1 / 127.5,
        offset=-1.0,
        interpolation="bicubic",
    )
    preprocessor = keras_hub.models.SigLIPPreprocessor(
        tokenizer=tokenizer,
        image_converter=image_converter,
        sequence_length=SEQUENCE_LENGTH,
    )
    return _save(path, backbone, preprocessor, start)


def _save(path, backbone, preprocessor, start):
    # KerasHub 0.32 has no CLIP or SigLIP task to save both at once; a user
    # saves the backbone and the preprocessor into the same folder.
    path = str(path)
    backbone.save_to_preset(path)
    preprocessor.save_to_preset(path)
    return TinyPreset(
        path=path,
        backbone=backbone,
        preprocessor=preprocessor,
        captions=SAMPLE_CAPTIONS,
        images=sample_images(),
        build_seconds=time.perf_counter() - start,
    )
