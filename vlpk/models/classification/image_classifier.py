"""A supervised image classifier on a backbone's image tower."""

import keras

from vlpk.layers.token_pooling import TokenPooling
from vlpk.models.classification.signatures import classify_signature
from vlpk.models.contrastive.contrastive_preprocessor import ContrastivePreprocessor
from vlpk.models.contrastive.dual_encoder_backbone import DualEncoderBackbone
from vlpk.models.inputs import image_input
from vlpk.models.task import VisionLanguageTask


@keras.saving.register_keras_serializable(package="vlpk")
class ImageClassifier(VisionLanguageTask):
    """A backbone's image encoder, mean pooling and a linear head.

    A *linear probe* freezes the encoder (`backbone.image_encoder.trainable
    = False`, so batch-norm statistics stay fixed too) and trains the head
    alone; *fine-tuning* trains both. The features are the pooled encoder
    output, before any contrastive projection, as in the CLIP paper's linear
    probes; token outputs (a `VisionLanguageBackbone`'s) are averaged.

    With a preprocessor, `fit`, `evaluate` and `predict` take raw images:
    `x = {"images": image bytes or pixels}` (or the images alone) and `y =`
    integer labels. Without one they take `{"images": [B, H, W, 3]}` floats
    in 0–255. The output is `{"predictions": [B, num_classes]}`: logits with
    the default `activation=None`, float32 under any dtype policy.

    Args:
        backbone: a vlpk backbone with an `image_encoder`
            (`vlpk.models.DualEncoderBackbone`, `VisionLanguageBackbone`).
        num_classes: the number of classes.
        preprocessor: a `vlpk.models.ContrastivePreprocessor` (its image
            converter prepares the images), or None.
        class_names: the class names, in label order, which the serving
            signature returns; None names them `"0"`, `"1"`, ...
        activation: the head's activation; None gives logits.
        dropout: dropout before the head.

    Example:
    >>> import numpy as np
    >>> from vlpk.config import PretrainConfig
    >>> from vlpk.data import synthetic
    >>> from vlpk.jobs.recipes import build_dual_encoder
    >>> from vlpk.text import SPECIAL_TOKENS, wordpiece_tokenizer
    >>> backbone = build_dual_encoder(PretrainConfig().smoke(), 5)  # 64 x 64
    >>> classifier = ImageClassifier(backbone, len(synthetic.CLASS_NAMES),
    ...     ContrastivePreprocessor(wordpiece_tokenizer(list(SPECIAL_TOKENS))),
    ...     class_names=synthetic.CLASS_NAMES)
    >>> backbone.image_encoder.trainable = False  # a linear probe
    >>> classifier.compile(run_eagerly=True)  # eager: quicker for two steps
    >>> shapes = synthetic.generate_examples(4, image_size=32)  # resized to 64
    >>> images = np.stack([e["image"] for e in shapes])
    >>> history = classifier.fit({"images": images}, [e["label"] for e in shapes],
    ...                          batch_size=2, verbose=0)
    >>> sorted(history.history), backbone.image_encoder.trainable_weights
    (['accuracy', 'loss'], [])

    References:
        - [Radford et al., 2021](https://arxiv.org/abs/2103.00020) (CLIP;
          linear probes)
    """

    backbone_cls = DualEncoderBackbone
    preprocessor_cls = ContrastivePreprocessor

    def __init__(
        self,
        backbone,
        num_classes,
        preprocessor=None,
        class_names=None,
        activation=None,
        dropout=0.0,
        **kwargs,
    ):
        class_names = _class_names(num_classes, class_names)

        # === Layers ===
        # Made in a fixed order with fixed names: a seed gives the same
        # head, and the same figures, run after run.
        self.backbone = backbone
        self.preprocessor = preprocessor
        policy = backbone.dtype_policy
        self.feature_pooling = TokenPooling(
            "mean", dtype=policy, name="feature_pooling"
        )
        self.head_dropout = keras.layers.Dropout(
            dropout, dtype=policy, name="head_dropout"
        )
        # Float32 logits keep the softmax of the loss stable under a
        # mixed-precision policy.
        self.head = keras.layers.Dense(
            num_classes, activation=activation, dtype="float32", name="head"
        )

        # === Functional model ===
        images = image_input(backbone.image_encoder)
        features = backbone.image_encoder(images)
        if len(features.shape) == 3:
            features = self.feature_pooling(features)
        predictions = self.head(self.head_dropout(features))
        # A mixed-policy Identity would cast the logits back to bfloat16.
        outputs = {
            "predictions": keras.layers.Identity(dtype="float32", name="predictions")(
                predictions
            )
        }
        super().__init__(inputs={"images": images}, outputs=outputs, **kwargs)

        # === Config ===
        self.num_classes = num_classes
        self.class_names = class_names
        self.activation = activation
        self.dropout = dropout

    def compile(self, optimizer="auto", loss="auto", *, metrics="auto", **kwargs):
        """Configures the task: AdamW, cross-entropy on logits, accuracy.

        Args:
            optimizer: `"auto"` (AdamW, learning rate 1e-4, weight decay
                0.01: a pretrained tower is fine-tuned gently), or any Keras
                optimizer.
            loss: `"auto"` (`SparseCategoricalCrossentropy(from_logits=True)`
                on `predictions`), or any loss.
            metrics: `"auto"` (`SparseCategoricalAccuracy` named
                `accuracy`), or any metrics.
            **kwargs: passed to `keras.Model.compile`.
        """
        if optimizer == "auto":
            optimizer = keras.optimizers.AdamW(1e-4, weight_decay=0.01)
        if loss == "auto":
            loss = {
                "predictions": keras.losses.SparseCategoricalCrossentropy(
                    from_logits=True
                )
            }
        if metrics == "auto":
            accuracy = keras.metrics.SparseCategoricalAccuracy(name="accuracy")
            metrics = {"predictions": [accuracy]}
        super().compile(optimizer=optimizer, loss=loss, metrics=metrics, **kwargs)

    def serving_signatures(self):
        """`classify` (also `serving_default`): `image_bytes` → the classes.

        See `vlpk.models.classification.signatures.classify_signature`:
        `probabilities` (the softmax of the logits, or the head's own output
        when it has an activation), `class_id` and `class_name`.
        """
        classify = classify_signature(
            self,
            self.preprocessor,
            self.class_names,
            from_logits=self.activation is None,
        )
        return {"classify": classify, "serving_default": classify}

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_classes": self.num_classes,
                "class_names": list(self.class_names),
                "activation": self.activation,
                "dropout": self.dropout,
            }
        )
        return config


def _class_names(num_classes, class_names):
    """The class names as strings, `"0"`, `"1"`, ... by default."""
    if class_names is None:
        return [str(i) for i in range(num_classes)]
    class_names = [str(name) for name in class_names]
    if len(class_names) != num_classes:
        raise ValueError(
            f"ImageClassifier got {len(class_names)} class_names for "
            f"num_classes={num_classes}: give one name per class, in label order."
        )
    return class_names
