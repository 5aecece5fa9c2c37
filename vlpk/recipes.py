"""Recipes: turn a config into the public objects a user would build by hand.

Nothing here is hidden machinery: each function is the few lines of
composition a notebook would write (encoders → model → optimizer).
"""

import keras

from vlpk.encoders import ImageEncoder, bert_encoder, small_cnn
from vlpk.errors import InputError
from vlpk.losses import ContrastiveLoss, SigmoidContrastiveLoss
from vlpk.models.dual_encoder import DualEncoder

LOSSES = ("clip", "siglip")


def build_dual_encoder(config, vocabulary_size):
    """The quickstart's dual encoder: a small CNN and a small KerasHub BERT.

    Args:
        config: a `vlpk.config.PretrainConfig`.
        vocabulary_size: the size of the learned vocabulary.
    """
    image_encoder = ImageEncoder(
        small_cnn(config.image_size, widths=tuple(config.image_widths)),
        output="pooled",
        normalization="unit",
        name="image_encoder",
    )
    text_encoder = bert_encoder(
        vocabulary_size=vocabulary_size,
        num_layers=config.text_layers,
        num_heads=config.text_heads,
        hidden_dim=config.text_hidden_dim,
        intermediate_dim=config.text_intermediate_dim,
        max_sequence_length=config.sequence_length,
        dropout=config.text_dropout,
        pooling="pooler",
    )
    _check_loss(config)
    siglip = config.loss == "siglip"
    return DualEncoder(
        image_encoder,
        text_encoder,
        embedding_dim=config.embedding_dim,
        # SigLIP starts from temperature 0.1 and bias -10 (Zhai et al.).
        initial_temperature=0.1 if siglip else config.initial_temperature,
        initial_bias=-10.0 if siglip else None,
        name="dual_encoder",
    )


def build_loss(config):
    """`ContrastiveLoss` for "clip", `SigmoidContrastiveLoss` for "siglip"."""
    _check_loss(config)
    return SigmoidContrastiveLoss() if config.loss == "siglip" else ContrastiveLoss()


def _check_loss(config):
    if config.loss not in LOSSES:
        raise InputError(f"Unknown loss {config.loss!r}; choose one of {LOSSES}.")


def build_optimizer(config, total_steps):
    """AdamW with linear warm-up then cosine decay over `total_steps`."""
    warmup = max(1, int(config.warmup_fraction * total_steps))
    schedule = keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=0.0,
        decay_steps=max(1, total_steps - warmup),
        warmup_target=config.learning_rate,
        warmup_steps=warmup,
        alpha=0.05,
    )
    return keras.optimizers.AdamW(
        learning_rate=schedule, weight_decay=config.weight_decay, clipnorm=1.0
    )
