"""A dual encoder's image tower with a head made of class-name prompts."""

import keras
import numpy as np

from vlpk.models.classification.signatures import classify_signature
from vlpk.models.contrastive.contrastive_preprocessor import ContrastivePreprocessor
from vlpk.models.contrastive.dual_encoder_backbone import DualEncoderBackbone
from vlpk.models.task import VisionLanguageTask

# CLIP's prompt ensemble, shortened, with one template for Shapes' drawings.
DEFAULT_TEMPLATES = (
    "a photo of a {}.",
    "a picture of a {}.",
    "an image of a {}.",
    "a drawing of a {}.",
    "a {}.",
    "a {} shape.",
)


@keras.saving.register_keras_serializable(package="vlpk")
class ZeroShotImageClassifier(VisionLanguageTask):
    """Classifies images by their similarity to embedded class-name prompts.

    As in CLIP, each class name fills every template ("a photo of a {}."),
    the text tower embeds the prompts, and their normalized mean is the
    class's embedding. These embeddings are the kernel of a linear head on
    the normalized image embedding, scaled by `logit_scale`: as built (after
    `embed_class_names()`), the classifier is zero-shot; `fit` on labelled
    images fine-tunes the head and the image tower from there (the "zero-shot
    initialized head" of WiSE-FT and FLYP).

    `fit`, `evaluate` and `predict` take raw images (encoded bytes or pixels)
    and integer labels; the output is the logits `[B, num_classes]`.

    Args:
        backbone: a dual-encoder backbone (`vlpk.models.DualEncoderBackbone`
            or `KerasHubDualEncoderBackbone`).
        class_names: the class names, in label order.
        preprocessor: the backbone's contrastive preprocessor
            (`ContrastivePreprocessor` or `KerasHubContrastivePreprocessor`),
            which also tokenizes the prompts; or None.
        templates: prompt templates, each with one `{}` for the class name.
        logit_scale: the factor on cosine similarities; None takes the
            backbone's own (`1 / temperature`) when built.

    Example:
    >>> import tensorflow as tf
    >>> from vlpk.data import ImagePreprocessor
    >>> from vlpk.encoders import ImageEncoder, bert_encoder, small_cnn
    >>> from vlpk.text import SPECIAL_TOKENS, wordpiece_tokenizer
    >>> tokenizer = wordpiece_tokenizer([*SPECIAL_TOKENS, "a", "cat", "dog"])
    >>> backbone = DualEncoderBackbone(ImageEncoder(small_cnn(8, widths=(4,))),
    ...     bert_encoder(8, num_layers=1, num_heads=2, hidden_dim=4,
    ...                  intermediate_dim=8, max_sequence_length=8), embedding_dim=4)
    >>> classifier = ZeroShotImageClassifier(backbone, ["cat", "dog"],
    ...     ContrastivePreprocessor(tokenizer, ImagePreprocessor(8), 8))
    >>> classifier.embed_class_names().shape  # zero-shot from here
    (2, 4)
    >>> pngs = tf.stack([tf.io.encode_png(tf.zeros((8, 8, 3), "uint8"))] * 3)
    >>> classifier.predict(pngs, verbose=0).shape  # logits, from image bytes
    (3, 2)

    `classifier.fit(image_bytes, labels)` fine-tunes it from there.

    References:
        - [Radford et al., 2021](https://arxiv.org/abs/2103.00020) (CLIP)
        - [Wortsman et al., 2022](https://arxiv.org/abs/2109.01903) (WiSE-FT)
    """

    backbone_cls = DualEncoderBackbone
    preprocessor_cls = ContrastivePreprocessor

    def __init__(
        self,
        backbone,
        class_names,
        preprocessor=None,
        templates=DEFAULT_TEMPLATES,
        logit_scale=None,
        **kwargs,
    ):
        class_names = [str(name) for name in class_names]
        templates = tuple(templates)
        _check(class_names, templates)
        if logit_scale is None:
            logit_scale = 1.0 / backbone.temperature

        # === Layers ===
        self.backbone = backbone
        self.preprocessor = preprocessor
        self.class_head = keras.layers.Dense(
            len(class_names), use_bias=False, dtype="float32", name="class_head"
        )
        self.scale = keras.layers.Rescaling(
            logit_scale, dtype="float32", name="logit_scale"
        )

        # === Functional model ===
        images = keras.Input(backbone.input["images"].shape[1:], name="images")
        embedding = backbone.get_image_embeddings(images)
        logits = self.scale(self.class_head(embedding))
        super().__init__(inputs={"images": images}, outputs=logits, **kwargs)

        # === Config ===
        self.class_names = class_names
        self.templates = templates
        self.logit_scale = float(logit_scale)

    def embed_class_names(self):
        """Sets the head to the class-name prompt embeddings (zero-shot).

        Needs the preprocessor, which tokenizes the prompts. Returns the
        `[num_classes, D]` class embeddings.
        """
        from vlpk.tasks.zero_shot import class_embeddings

        if self.preprocessor is None:
            raise ValueError(
                "embed_class_names() tokenizes the class prompts: build the "
                "classifier with its backbone's preprocessor."
            )
        embeddings = class_embeddings(
            self.backbone,
            self.class_names,
            self.preprocessor.preprocess_text,
            self.templates,
        )
        self.class_head.set_weights([np.asarray(embeddings).T])
        return embeddings

    def compile(self, optimizer="auto", loss="auto", *, metrics="auto", **kwargs):
        """Configures the task: AdamW, cross-entropy on logits, accuracy.

        Args:
            optimizer: `"auto"` (AdamW, learning rate 1e-4, weight decay
                0.01: a pretrained tower is fine-tuned gently), or any Keras
                optimizer.
            loss: `"auto"` (`SparseCategoricalCrossentropy(from_logits=True)`)
                or any loss.
            metrics: `"auto"` (`SparseCategoricalAccuracy`) or any metrics.
            **kwargs: passed to `keras.Model.compile`.
        """
        if optimizer == "auto":
            optimizer = keras.optimizers.AdamW(1e-4, weight_decay=0.01)
        if loss == "auto":
            loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
        if metrics == "auto":
            metrics = [keras.metrics.SparseCategoricalAccuracy(name="accuracy")]
        super().compile(optimizer=optimizer, loss=loss, metrics=metrics, **kwargs)

    def serving_signatures(self):
        """`classify` (also `serving_default`): image bytes to classes.

        Outputs `probabilities` `[B, num_classes]`, `class_id` `[B]` and
        `class_name` `[B]` (the most probable class).
        """
        classify = classify_signature(self, self.preprocessor, self.class_names)
        return {"classify": classify, "serving_default": classify}

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "class_names": list(self.class_names),
                "templates": list(self.templates),
                "logit_scale": self.logit_scale,
            }
        )
        return config


def _check(class_names, templates):
    if not class_names:
        raise ValueError("ZeroShotImageClassifier needs at least one class name.")
    if not templates or any(t.count("{}") != 1 for t in templates):
        raise ValueError(
            f"Each template needs exactly one '{{}}' for the class name; got "
            f"{templates}."
        )
