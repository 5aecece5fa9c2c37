"""Building the text tokenizer.

vlpk uses KerasHub tokenizers as they are: a `BertTokenizer` over a learned
WordPiece vocabulary by default, or any KerasHub tokenizer loaded from a preset
the user has on disk.
"""

import keras_hub


def wordpiece_tokenizer(vocabulary, lowercase=True):
    """A KerasHub `BertTokenizer` over a WordPiece vocabulary.

    Args:
        vocabulary: a list of tokens or the path of a `vocab.txt`.
        lowercase: lowercase the input (must match how it was learned).

    Example:
    >>> tokenizer = wordpiece_tokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]",
    ...                                  "[MASK]", "red", "circle"])
    >>> tokenizer("red circle").tolist()
    [5, 6]
    """
    return keras_hub.models.BertTokenizer(vocabulary=vocabulary, lowercase=lowercase)


def tokenizer_from_preset(preset):
    """Loads a KerasHub tokenizer from a preset name or a local preset folder.

    Offline, a preset name that needs a download fails with a message that says
    how to point at a local preset folder instead.
    """
    from vlpk.encoders.weights import load_preset_backbone

    return load_preset_backbone(
        preset, loader=keras_hub.tokenizers.Tokenizer.from_preset
    )
