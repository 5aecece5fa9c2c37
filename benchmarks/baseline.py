"""The hand-written baseline: a dual encoder as a keras.io example writes it.

No vlpk layers, losses or recipes: Keras layers and a KerasHub
`BertBackbone` (and `ViTBackbone`) composed in a `keras.Model` subclass with
its own `train_step` (a `tf.GradientTape`, CLIP's symmetric cross-entropy
written inline) — the pattern of keras.io's "Natural language image search
with a Dual Encoder". It mirrors the architecture vlpk's recipes build for
the same `PretrainConfig`, weight for weight (the benchmarks check that the
parameter counts agree), so any speed difference is vlpk's own.

Example:
>>> model = handwritten_dual_encoder(config, vocabulary_size=400)
>>> model.compile(optimizer=keras.optimizers.AdamW(1e-3))
>>> model.fit(dataset, steps_per_epoch=100)
"""

import math

import keras
import keras_hub
import tensorflow as tf


def image_tower(image):
    """Pixels (0-255) to a pooled feature vector, as vlpk's image encoder.

    Args:
        image: the config's `ImageConfig` (`config.image`): small CNN or ViT.
    """
    images = keras.Input((image.size, image.size, 3), name="images")
    if image.backbone == "vit":
        x = keras.layers.Rescaling(1 / 127.5, offset=-1)(images)
        tokens = keras_hub.models.ViTBackbone(**image.vit_sizes())(x)
        x = keras.layers.GlobalAveragePooling1D()(tokens)
    elif image.backbone == "small_cnn":
        x = keras.layers.Rescaling(1 / 255)(images)
        for width in image.widths:
            x = keras.layers.Conv2D(
                width, 3, strides=2, padding="same", use_bias=False
            )(x)
            x = keras.layers.GroupNormalization(groups=min(8, width))(x)
            x = keras.layers.ReLU()(x)
        x = keras.layers.GlobalAveragePooling2D()(x)
    else:
        raise ValueError(f"No hand-written tower for {image.backbone!r}.")
    return keras.Model(images, x, name="image_tower")


def text_backbone(text, vocabulary_size):
    """KerasHub's BERT at the size of the config's `TextConfig` (`config.text`)."""
    return keras_hub.models.BertBackbone(
        vocabulary_size=vocabulary_size,
        max_sequence_length=text.sequence_length,
        **text.sizes(),
    )


def clip_loss(image, text, ids, scale):
    """CLIP's symmetric cross-entropy; captions of the same image are
    positives of each other (soft targets over equal ids)."""
    logits = scale * tf.matmul(image, text, transpose_b=True)
    same = tf.cast(tf.equal(ids[:, None], ids[None, :]), logits.dtype)
    targets = same / tf.reduce_sum(same, axis=-1, keepdims=True)
    image_to_text = tf.nn.softmax_cross_entropy_with_logits(targets, logits)
    text_to_image = tf.nn.softmax_cross_entropy_with_logits(
        targets, tf.transpose(logits)
    )
    return tf.reduce_mean(image_to_text + text_to_image) / 2


class HandWrittenDualEncoder(keras.Model):
    """Two towers, two linear projections, a learned temperature."""

    def __init__(self, image_tower, text_backbone, embedding_dim, temperature=0.07):
        super().__init__()
        self.image_tower = image_tower
        self.text_backbone = text_backbone
        self.image_projection = keras.layers.Dense(embedding_dim)
        self.text_projection = keras.layers.Dense(embedding_dim)
        self.log_scale = self.add_weight(
            shape=(),
            initializer=keras.initializers.Constant(math.log(1 / temperature)),
            name="log_scale",
        )
        self.loss_tracker = keras.metrics.Mean(name="loss")

    def embed_images(self, images, training=False):
        features = self.image_tower(images, training=training)
        return tf.math.l2_normalize(self.image_projection(features), axis=-1)

    def embed_texts(self, text, training=False):
        pooled = self.text_backbone(
            {
                "token_ids": text["token_ids"],
                "segment_ids": tf.zeros_like(text["token_ids"]),
                "padding_mask": text["padding_mask"],
            },
            training=training,
        )["pooled_output"]
        return tf.math.l2_normalize(self.text_projection(pooled), axis=-1)

    def call(self, x, training=False):
        return self.embed_images(x["images"], training), self.embed_texts(x, training)

    def get_image_embeddings(self, images):
        """`images -> unit embeddings`, as vlpk's backbones (for
        `vlpk.evaluation.evaluate_retrieval`)."""
        return self.embed_images(images)

    def get_text_embeddings(self, token_ids, padding_mask):
        """`token_ids, padding_mask -> unit embeddings`."""
        return self.embed_texts({"token_ids": token_ids, "padding_mask": padding_mask})

    def train_step(self, data):
        x, y = data
        ids = tf.reshape(y["contrastive"], [-1])
        with tf.GradientTape() as tape:
            image, text = self(x, training=True)
            scale = tf.minimum(tf.exp(self.log_scale), 100.0)
            loss = clip_loss(image, text, ids, scale)
        gradients = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply_gradients(zip(gradients, self.trainable_variables))
        self.loss_tracker.update_state(loss)
        return {"loss": self.loss_tracker.result()}

    @property
    def metrics(self):
        return [self.loss_tracker]


def handwritten_dual_encoder(config, vocabulary_size):
    """The baseline for a contrastive-only `PretrainConfig`."""
    model = HandWrittenDualEncoder(
        image_tower(config.image),
        text_backbone(config.text, vocabulary_size),
        config.embedding_dim,
        config.initial_temperature,
    )
    size, length = config.image.size, config.text.sequence_length
    model(
        {
            "images": tf.zeros([1, size, size, 3]),
            "token_ids": tf.zeros([1, length], tf.int32),
            "padding_mask": tf.ones([1, length], tf.int32),
        }
    )
    return model
