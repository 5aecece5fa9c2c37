"""Keras callbacks for vision-language training."""

import keras

from vlpk.evaluation import evaluate_retrieval


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
    >>> callbacks = [RetrievalEvaluation(val, image_pre, text_pre),
    ...              keras.callbacks.TensorBoard("logs")]
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
        logs["temperature"] = self.model.temperature
