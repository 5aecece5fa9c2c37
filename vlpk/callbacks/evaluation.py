"""Keras callbacks for vision-language training."""

import keras

from vlpk.evaluation import caption_bleu, evaluate_retrieval, generate_split_captions


class RetrievalEvaluation(keras.callbacks.Callback):
    """Computes validation Recall@K after each epoch and adds it to the logs.

    Put it *before* `keras.callbacks.TensorBoard` in the callback list: the
    values it adds to `logs` (`val_i2t_r1`, ..., `temperature`) are then
    written to TensorBoard and seen by `ModelCheckpoint` and `EarlyStopping`.

    Args:
        examples: the validation `Example`s.
        image_preprocessor: the training `ImagePreprocessor`.
        text_preprocessor: the training `TextPreprocessor`.
        every: evaluate every `every` epochs.

    Example:
    >>> import tempfile
    >>> from vlpk.config import PretrainConfig
    >>> from vlpk.data import ImagePreprocessor, synthetic
    >>> from vlpk.jobs.recipes import build_dual_encoder
    >>> from vlpk.text import SPECIAL_TOKENS, TextPreprocessor, wordpiece_tokenizer
    >>> paths = synthetic.write_shapes(tempfile.mkdtemp(), image_size=24,
    ...                                splits={"val": 3}, progress=False)
    >>> val = synthetic.read_shapes(paths["root"], "val")
    >>> text_pre = TextPreprocessor(wordpiece_tokenizer(SPECIAL_TOKENS), 8)
    >>> callbacks = [RetrievalEvaluation(val, ImagePreprocessor(64), text_pre),
    ...              keras.callbacks.TensorBoard(tempfile.mkdtemp())]
    >>> callbacks[0].set_model(build_dual_encoder(PretrainConfig().smoke(), 5))
    >>> logs = {"loss": 2.0}
    >>> callbacks[0].on_epoch_end(0, logs)  # as `fit` calls it after an epoch
    >>> sorted(logs)  # doctest: +NORMALIZE_WHITESPACE
    ['loss', 'temperature', 'val_i2t_r1', 'val_i2t_r10', 'val_i2t_r5',
     'val_t2i_r1', 'val_t2i_r10', 'val_t2i_r5']
    """

    def __init__(self, examples, image_preprocessor, text_preprocessor, every=1):
        super().__init__()
        self.examples = examples
        self.image_preprocessor = image_preprocessor
        self.text_preprocessor = text_preprocessor
        self.every = every

    def on_epoch_end(self, epoch, logs=None):
        if logs is None or (epoch + 1) % self.every:
            return
        metrics = evaluate_retrieval(
            self.model, self.examples, self.image_preprocessor, self.text_preprocessor
        )
        for key in ("i2t_r1", "i2t_r5", "i2t_r10", "t2i_r1", "t2i_r5", "t2i_r10"):
            logs[f"val_{key}"] = metrics[key]
        logs["temperature"] = getattr(self.model, "backbone", self.model).temperature


class CaptionBleu(keras.callbacks.Callback):
    """Generates validation captions after each epoch and logs their BLEU-4.

    The monitoring metric of captioning runs: KerasHub's corpus `Bleu`
    (`max_order=4`, in percent) of greedy captions against each image's
    references, added to the logs as `val_bleu4`. Put it *before*
    `keras.callbacks.TensorBoard` so TensorBoard, `ModelCheckpoint` and
    `EarlyStopping` see it. The reported scores of a finished model come from
    `vlpk.metrics.captioning` (the COCO caption evaluation), not from this.

    Args:
        examples: the validation `Example`s (with their captions).
        image_preprocessor: the training `ImagePreprocessor`.
        tokenizer: the KerasHub tokenizer (for `[CLS]`, `[SEP]` and decoding).
        every: evaluate every `every` epochs.
        max_images: caption at most this many images (the first ones).

    Example:
    >>> import tempfile
    >>> from vlpk.data import ImagePreprocessor
    >>> from vlpk.data.synthetic import read_shapes, write_shapes
    >>> from vlpk.encoders import ImageEncoder, bert_encoder, small_cnn
    >>> from vlpk.layers import CaptionDecoder
    >>> from vlpk.models import VisionLanguageBackbone
    >>> from vlpk.text import SPECIAL_TOKENS, wordpiece_tokenizer
    >>> root = tempfile.mkdtemp()
    >>> _ = write_shapes(root, image_size=24, splits={"val": 2}, progress=False)
    >>> coca = VisionLanguageBackbone(
    ...     ImageEncoder(small_cnn(24, widths=(4,)), output="tokens"),
    ...     bert_encoder(6, num_layers=1, num_heads=1, hidden_dim=4,
    ...                  intermediate_dim=8, max_sequence_length=5),
    ...     caption_decoder=CaptionDecoder(6, 5, 1, 1, 4, 8))
    >>> callback = CaptionBleu(read_shapes(root, "val"), ImagePreprocessor(24),
    ...                        wordpiece_tokenizer([*SPECIAL_TOKENS, "circle"]))
    >>> callback.set_model(coca)
    >>> logs = {}
    >>> callback.on_epoch_end(0, logs)  # as `fit` calls it after an epoch
    >>> logs  # an untrained decoder: no 4-gram in common with the references
    {'val_bleu4': 0.0}
    """

    def __init__(self, examples, image_preprocessor, tokenizer, every=1, max_images=64):
        super().__init__()
        self.examples = list(examples)[:max_images]
        self.image_preprocessor = image_preprocessor
        self.tokenizer = tokenizer
        self.every = every

    def on_epoch_end(self, epoch, logs=None):
        if logs is None or (epoch + 1) % self.every:
            return
        captions = generate_split_captions(
            self.model, self.examples, self.image_preprocessor, self.tokenizer
        )
        logs["val_bleu4"] = caption_bleu([e.captions for e in self.examples], captions)
