"""Learning and loading a WordPiece vocabulary.

The vocabulary is learned from the training captions with KerasHub's
`compute_word_piece_vocabulary` (TF Text's WordPiece learner underneath) and
saved as `vocab.txt` next to the run, one token a line, in the BERT format, so
both KerasHub's `BertTokenizer` and TF Text's `FastWordpieceTokenizer` can read
it.
"""

import os

import keras_hub
import tensorflow as tf

# BERT's special tokens: KerasHub's `BertTokenizer` requires all of them.
SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


def learn_vocabulary(texts, vocabulary_size=1000, output_path=None, lowercase=True):
    """Learns a WordPiece vocabulary from an iterable of strings.

    CJK characters are split into single-character tokens, so Chinese and
    Japanese text survive with no extra set-up.

    Args:
        texts: an iterable of Python strings, or a `tf.data.Dataset` of strings.
        vocabulary_size: the maximum number of tokens, special tokens included.
        output_path: where to write `vocab.txt`; nothing is written when None.
        lowercase: lowercase the text before learning (and tokenizing).

    Returns:
        The vocabulary as a list of strings, special tokens first.

    Example:
    >>> vocab = learn_vocabulary(["a red circle", "a blue square"], 50)
    >>> vocab[:5]
    ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]']
    """
    if isinstance(texts, tf.data.Dataset):
        dataset = texts
    else:
        texts = [t for t in texts if isinstance(t, str) and t.strip()]
        if not texts:
            raise ValueError("learn_vocabulary needs at least one non-empty string.")
        # A plain Python list would be read as file names: wrap it in tf.data.
        dataset = tf.data.Dataset.from_tensor_slices(texts)
    vocabulary = keras_hub.tokenizers.compute_word_piece_vocabulary(
        dataset.batch(1024),
        vocabulary_size,
        lowercase=lowercase,
        reserved_tokens=list(SPECIAL_TOKENS),
    )
    if output_path is not None:
        save_vocabulary(vocabulary, output_path)
    return vocabulary


def save_vocabulary(vocabulary, path):
    """Writes a vocabulary one token a line, atomically."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        for token in vocabulary:
            f.write(token + "\n")
    os.replace(tmp, path)


def load_vocabulary(path):
    """Reads a `vocab.txt` written by `save_vocabulary` (or any BERT vocab)."""
    if not os.path.exists(path):
        raise FileNotFoundError(
            f"No vocabulary file at {path}. Learn one with "
            "vlpk.text.learn_vocabulary(texts, output_path=...)."
        )
    with open(path, encoding="utf-8") as f:
        vocabulary = [line.rstrip("\n") for line in f if line.rstrip("\n")]
    missing = [t for t in SPECIAL_TOKENS if t not in vocabulary]
    if missing:
        raise ValueError(f"{path} lacks the special tokens {missing}.")
    return vocabulary
