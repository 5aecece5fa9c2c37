"""VQA as classification over an answer vocabulary, on a backbone's fusion."""

import keras
import tensorflow as tf

from vlpk.layers.concat_fusion import ConcatFusion
from vlpk.layers.cross_attention_fusion import CrossAttentionFusion
from vlpk.layers.fusion import apply_fusion, fuses_tokens
from vlpk.layers.token_pooling import TokenPooling
from vlpk.models.contrastive.dual_encoder_backbone import DualEncoderBackbone
from vlpk.models.inputs import image_input, text_inputs
from vlpk.models.signatures import IMAGE_BYTES, QUESTION
from vlpk.models.task import VisionLanguageTask
from vlpk.models.vqa.vqa_classifier_preprocessor import VQAClassifierPreprocessor
from vlpk.serialization import deserialize_nested


@keras.saving.register_keras_serializable(package="vlpk")
class VQAClassifier(VisionLanguageTask):
    """Answers questions about images with one logit per known answer.

    The image and the question go through the backbone's encoders and a
    fusion layer. With `CrossAttentionFusion` (ALBEF), the question's tokens
    attend to the image tokens and the fused `[CLS]` token is classified;
    with `ConcatFusion`, the pooled image and question vectors are joined
    (image tokens are averaged first). A dropout and a linear layer give
    the logits over `answers`. Training targets are VQA soft scores
    (`vlpk.tasks.vqa.vqa_targets`) under a binary cross-entropy, as in the
    bottom-up-attention line of work.

    With a preprocessor, `fit`, `evaluate` and `predict` take raw data:
    `x = {"images": image bytes or pixels, "text": questions}` and `y =` the
    soft scores `[B, len(answers)]`. Without one they take `{"images",
    "token_ids", "padding_mask"}` and `y = {"predictions": soft scores}`.
    The output is `{"predictions": logits [B, len(answers)]}`, float32
    under any dtype policy.

    Args:
        backbone: a vlpk backbone with an `image_encoder` and a
            `text_encoder` (`vlpk.models.VisionLanguageBackbone`,
            `DualEncoderBackbone`).
        answers: the answer vocabulary, in logit order.
        preprocessor: a `vlpk.models.VQAClassifierPreprocessor` (its
            image converter and tokenizer), or None.
        fusion: the fusion layer; None takes the backbone's own (pretrained
            by matching and masked LM), or, for a backbone without one (a
            dual encoder), a new `ConcatFusion(hidden_dims=(256,))`.
        dropout: dropout before the answer head.

    Example:
    >>> import numpy as np
    >>> from vlpk.data import ImagePreprocessor
    >>> from vlpk.encoders import ImageEncoder, bert_encoder, small_cnn
    >>> from vlpk.text import SPECIAL_TOKENS, wordpiece_tokenizer
    >>> keras.utils.set_random_seed(0)
    >>> tokenizer = wordpiece_tokenizer([*SPECIAL_TOKENS, "what", "color", "is", "it"])
    >>> backbone = DualEncoderBackbone(ImageEncoder(small_cnn(16, widths=(4,))),
    ...     bert_encoder(tokenizer.vocabulary_size(), num_layers=1, num_heads=2,
    ...                  hidden_dim=8, intermediate_dim=16, max_sequence_length=6))
    >>> vqa = VQAClassifier(backbone, ["yes", "no", "red"],
    ...     VQAClassifierPreprocessor(tokenizer, ImagePreprocessor(16), 6),
    ...     fusion=ConcatFusion(hidden_dims=(8,)))  # a dual encoder has none
    >>> png = tf.io.encode_png(np.zeros((16, 16, 3), "uint8"))
    >>> answer = vqa.serving_signatures()["answer"]  # bytes, question → answer
    >>> outputs = answer(tf.stack([png]), tf.constant(["what color is it?"]))
    >>> outputs["answer"].numpy().tolist()  # untrained: any of the answers
    [b'red']

    `vqa.fit({"images": image_bytes, "text": questions}, soft_scores)`
    trains it, and `vqa.serving_archive()` exports `answer`.

    References:
        - [Anderson et al., 2018](https://arxiv.org/abs/1707.07998) (soft
          scores, binary cross-entropy)
        - [Li et al., 2021](https://arxiv.org/abs/2107.07651) (ALBEF)
    """

    backbone_cls = DualEncoderBackbone
    preprocessor_cls = VQAClassifierPreprocessor

    def __init__(
        self,
        backbone,
        answers,
        preprocessor=None,
        fusion=None,
        dropout=0.1,
        **kwargs,
    ):
        answers = [str(answer) for answer in answers]
        if not answers:
            raise ValueError("VQAClassifier needs at least one answer.")
        fusion = _fusion(backbone, fusion)

        # === Layers ===
        # Made in a fixed order (the fusion layer, then the head's), so a
        # seed gives the same weights, and the same figures, run after run.
        self.backbone = backbone
        self.preprocessor = preprocessor
        self.fusion = fusion
        self.head_dropout = keras.layers.Dropout(
            dropout, dtype=backbone.dtype_policy, name="head_dropout"
        )
        # Float32 logits keep the loss's log-sigmoids stable under a
        # mixed-precision policy.
        self.head = keras.layers.Dense(len(answers), dtype="float32", name="head")

        # === Functional model ===
        images = image_input(backbone.image_encoder)
        text = text_inputs(backbone.text_encoder)
        fused = self._fuse(images, text)
        logits = self.head(self.head_dropout(fused))
        outputs = {
            "predictions": keras.layers.Identity(dtype="float32", name="predictions")(
                logits
            )
        }
        super().__init__(inputs={"images": images, **text}, outputs=outputs, **kwargs)

        # === Config ===
        self.answers = answers
        self.dropout = dropout

    def _fuse(self, images, text):
        """The fused vector `[B, D]` of each (image, question) pair."""
        policy = self.backbone.dtype_policy
        image_features = self.backbone.image_encoder(images)
        text_features = self.backbone.text_encoder(text)
        if fuses_tokens(self.fusion):
            fused = apply_fusion(
                self.fusion,
                image_features,
                text_features["sequence_output"],
                text["padding_mask"],
            )
            pooling = TokenPooling("cls", dtype=policy, name="fused_pooling")
            return pooling(fused)
        if len(image_features.shape) == 3:  # tokens: a `VisionLanguageBackbone`
            pooling = TokenPooling("mean", dtype=policy, name="image_pooling")
            image_features = pooling(image_features)
        return apply_fusion(self.fusion, image_features, text_features["pooled_output"])

    def compile(self, optimizer="auto", loss="auto", *, metrics=None, **kwargs):
        """Configures the task: AdamW and the soft-score cross-entropy.

        Args:
            optimizer: `"auto"` (AdamW, learning rate 1e-4, weight decay
                0.01), or any Keras optimizer.
            loss: `"auto"` (binary cross-entropy on logits against the soft
                scores, averaged over answers: the usual sum (Anderson et
                al.) up to a factor left to the learning rate), or any loss
                for `predictions`.
            metrics: metrics for `predictions`.
            **kwargs: passed to `keras.Model.compile`.
        """
        if optimizer == "auto":
            optimizer = keras.optimizers.AdamW(1e-4, weight_decay=0.01)
        if loss == "auto":
            loss = keras.losses.BinaryCrossentropy(from_logits=True)
        if not isinstance(loss, dict):
            loss = {"predictions": loss}
        super().compile(optimizer=optimizer, loss=loss, metrics=metrics, **kwargs)

    def serving_signatures(self):
        """`answer` (also `serving_default`): `image_bytes`, `question` →
        `answer` (the arg-max answer, a string) and `score` (its sigmoid
        probability, as trained with the soft-score cross-entropy)."""
        preprocessor = self.preprocessor
        vocabulary = tf.constant(self.answers)

        @tf.function(input_signature=[IMAGE_BYTES, QUESTION])
        def answer(image_bytes, question):
            inputs = {"images": preprocessor.preprocess_images(image_bytes)}
            inputs.update(preprocessor.preprocess_text(question))
            logits = self(inputs, training=False)["predictions"]
            best = tf.argmax(logits, axis=-1, output_type=tf.int32)
            probability = tf.sigmoid(tf.gather(logits, best, batch_dims=1))
            return {"answer": tf.gather(vocabulary, best), "score": probability}

        return {"answer": answer, "serving_default": answer}

    def get_config(self):
        config = super().get_config()
        # The backbone's own fusion layer is saved with the backbone; saving
        # it again would rebuild it apart from the backbone's.
        own = self.fusion is getattr(self.backbone, "fusion", None)
        config.update(
            {
                "answers": list(self.answers),
                "fusion": None if own else keras.layers.serialize(self.fusion),
                "dropout": self.dropout,
            }
        )
        return config

    @classmethod
    def from_config(cls, config):
        return super().from_config(deserialize_nested(config, ("fusion",)))


def _fusion(backbone, fusion):
    """`fusion`, else the backbone's, else a new `ConcatFusion`; checked."""
    if fusion is None:
        fusion = getattr(backbone, "fusion", None)
    if fusion is None:
        fusion = ConcatFusion(
            hidden_dims=(256,), dtype=backbone.dtype_policy, name="vqa_fusion"
        )
    output_mode = getattr(backbone.image_encoder, "output_mode", "tokens")
    if isinstance(fusion, CrossAttentionFusion) and output_mode != "tokens":
        raise ValueError(
            "Cross-attention fusion attends to image tokens: build the image "
            "encoder with ImageEncoder(..., output='tokens')."
        )
    return fusion
