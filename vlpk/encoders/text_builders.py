"""Text encoders built from config (BERT, RoBERTa, DistilBERT) or a preset."""

import keras_hub

from vlpk.encoders.text_encoder import TextEncoder
from vlpk.encoders.weights import load_preset_backbone


def _build(backbone_cls, name, pooling, **config):
    backbone = backbone_cls(**config)
    return TextEncoder(backbone, pooling=pooling, name=name)


def bert_encoder(
    vocabulary_size,
    num_layers=2,
    num_heads=2,
    hidden_dim=64,
    intermediate_dim=128,
    max_sequence_length=32,
    dropout=0.1,
    pooling="cls",
):
    """Builds a randomly initialized BERT `TextEncoder`.

    Args:
        vocabulary_size: size of the token vocabulary.
        num_layers: number of transformer layers.
        num_heads: number of attention heads.
        hidden_dim: size of the token vectors.
        intermediate_dim: size of the feed-forward layers.
        max_sequence_length: longest sequence the position embedding covers.
        dropout: dropout rate.
        pooling: `"cls"`, `"mean"` or `"pooler"`.

    Returns:
        A `TextEncoder` on a `keras_hub.models.BertBackbone`.

    Example:

    ```python
    from vlpk.encoders import bert_encoder

    encoder = bert_encoder(vocabulary_size=1000, num_layers=1, hidden_dim=16,
                           intermediate_dim=32)
    encoder.output_dim  # 16
    ```
    """
    return _build(
        keras_hub.models.BertBackbone,
        "bert_text_encoder",
        pooling,
        vocabulary_size=vocabulary_size,
        num_layers=num_layers,
        num_heads=num_heads,
        hidden_dim=hidden_dim,
        intermediate_dim=intermediate_dim,
        max_sequence_length=max_sequence_length,
        dropout=dropout,
    )


def roberta_encoder(
    vocabulary_size,
    num_layers=2,
    num_heads=2,
    hidden_dim=64,
    intermediate_dim=128,
    max_sequence_length=32,
    dropout=0.1,
    pooling="cls",
):
    """Builds a randomly initialized RoBERTa `TextEncoder`.

    Args:
        vocabulary_size: size of the token vocabulary.
        num_layers: number of transformer layers.
        num_heads: number of attention heads.
        hidden_dim: size of the token vectors.
        intermediate_dim: size of the feed-forward layers.
        max_sequence_length: longest sequence the position embedding covers.
        dropout: dropout rate.
        pooling: `"cls"` (the `<s>` token) or `"mean"`.

    Returns:
        A `TextEncoder` on a `keras_hub.models.RobertaBackbone`.

    Example:

    ```python
    from vlpk.encoders import roberta_encoder

    encoder = roberta_encoder(vocabulary_size=1000, pooling="mean")
    ```
    """
    return _build(
        keras_hub.models.RobertaBackbone,
        "roberta_text_encoder",
        pooling,
        vocabulary_size=vocabulary_size,
        num_layers=num_layers,
        num_heads=num_heads,
        hidden_dim=hidden_dim,
        intermediate_dim=intermediate_dim,
        max_sequence_length=max_sequence_length,
        dropout=dropout,
    )


def distilbert_encoder(
    vocabulary_size,
    num_layers=2,
    num_heads=2,
    hidden_dim=64,
    intermediate_dim=128,
    max_sequence_length=32,
    dropout=0.1,
    pooling="cls",
):
    """Builds a randomly initialized DistilBERT `TextEncoder`.

    Args:
        vocabulary_size: size of the token vocabulary.
        num_layers: number of transformer layers.
        num_heads: number of attention heads.
        hidden_dim: size of the token vectors.
        intermediate_dim: size of the feed-forward layers.
        max_sequence_length: longest sequence the position embedding covers.
        dropout: dropout rate.
        pooling: `"cls"` or `"mean"`.

    Returns:
        A `TextEncoder` on a `keras_hub.models.DistilBertBackbone`.

    Example:

    ```python
    from vlpk.encoders import distilbert_encoder

    encoder = distilbert_encoder(vocabulary_size=1000)
    ```
    """
    return _build(
        keras_hub.models.DistilBertBackbone,
        "distilbert_text_encoder",
        pooling,
        vocabulary_size=vocabulary_size,
        num_layers=num_layers,
        num_heads=num_heads,
        hidden_dim=hidden_dim,
        intermediate_dim=intermediate_dim,
        max_sequence_length=max_sequence_length,
        dropout=dropout,
    )


def text_encoder_from_preset(preset, pooling="cls"):
    """Builds a `TextEncoder` on a KerasHub text backbone preset.

    Loads only the backbone; tokenize with the matching KerasHub tokenizer
    (`keras_hub.tokenizers.Tokenizer.from_preset(preset)`).

    Args:
        preset: a built-in preset name (`"bert_tiny_en_uncased"`), a
            Kaggle/Hugging Face handle, or a local preset directory.
        pooling: `"cls"`, `"mean"` or `"pooler"` (BERT only).

    Returns:
        A `TextEncoder`.

    Raises:
        WeightsUnavailableError: the preset had to be downloaded and could not;
            the message says how to use a local copy.

    Example:

    ```python
    from vlpk.encoders import text_encoder_from_preset

    encoder = text_encoder_from_preset("/path/to/bert_tiny_en_uncased")
    ```
    """
    backbone = load_preset_backbone(preset)
    return TextEncoder(backbone, pooling=pooling, name=f"{backbone.name}_text_encoder")
