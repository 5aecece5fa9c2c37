"""Recipes: turn a config into the public objects a user would build by hand.

Nothing here is hidden machinery: each function is the few lines of
composition a notebook would write (encoders → model → optimizer).
"""

import keras

from vlpk.encoders import ImageEncoder, bert_encoder, small_cnn
from vlpk.models.dual_encoder import DualEncoder


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
    return DualEncoder(
        image_encoder,
        text_encoder,
        embedding_dim=config.embedding_dim,
        initial_temperature=config.initial_temperature,
        name="dual_encoder",
    )


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
