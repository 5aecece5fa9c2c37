"""What the model says about a few fixed images, as TensorBoard summaries."""

import os

import keras
import tensorflow as tf

from vlpk.callbacks.projector import uint8_images


def _markdown_cell(text):
    # One table row per image: a newline would end the row and a bare "|"
    # would start a new cell.
    return " ".join(str(text).split()).replace("|", "\\|")


def markdown_table(outputs, references=None):
    """A markdown table: index | reference (optional) | model output.

    Example:
    >>> print(markdown_table(["a red circle"], ["a red circle"]))
    | index | reference | output |
    |---|---|---|
    | 0 | a red circle | a red circle |
    """
    header = ["index"] + (["reference"] if references is not None else [])
    lines = ["| " + " | ".join(header + ["output"]) + " |"]
    lines.append("|" + "---|" * (len(header) + 1))
    for index, output in enumerate(outputs):
        cells = [str(index)]
        if references is not None:
            cells.append(_markdown_cell(references[index]))
        cells.append(_markdown_cell(output))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


class SampleSummaries(keras.callbacks.Callback):
    """Shows a few fixed images and what the model makes of them.

    Every `every` epochs it calls `describe_fn(images)` and writes, at step
    `epoch`, to the run `<log_dir>/<name>`:

    - `images`: the images (an image summary, up to `max_outputs`);
    - `outputs`: a markdown table, one row per image: index, the reference
      text when `references` is given, and the model's output.

    `describe_fn` is what the task makes of an image: generated captions,
    predicted answers, or matching scores formatted as text.

    Args:
        log_dir: the TensorBoard log directory.
        images: `[N, H, W, 3]` uint8 or 0-255 images, passed to `describe_fn`
            as given. Only the first `max_outputs` are used.
        describe_fn: `describe_fn(images) -> list[str]`, one string per image.
        every: write every `every` epochs.
        max_outputs: how many of the images to show and describe.
        name: the run (sub-directory of `log_dir`) written to.
        references: optional reference texts, one per image.

    Example:
    >>> import tempfile
    >>> import numpy as np
    >>> images = np.zeros((2, 8, 8, 3), "uint8")
    >>> def describe(images):  # a captioner's or matcher's verdict, say
    ...     return [f"dark image {i}" for i in range(len(images))]
    >>> callback = SampleSummaries(tempfile.mkdtemp(), images, describe,
    ...                            references=["a dark square", "a dark box"])
    >>> callback.on_epoch_end(0)  # `fit` calls it after each epoch
    """

    def __init__(
        self,
        log_dir,
        images,
        describe_fn,
        every=1,
        max_outputs=8,
        name="samples",
        references=None,
    ):
        super().__init__()
        self.log_dir = log_dir
        self.images = images
        self.describe_fn = describe_fn
        self.every = every
        self.max_outputs = max_outputs
        self.name = name
        self.references = references
        if references is not None and len(references) < min(len(images), max_outputs):
            raise ValueError(
                f"Got {len(references)} references for "
                f"{min(len(images), max_outputs)} images; give one per image."
            )
        self._writer = None

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every:
            return
        if self._writer is None:
            self._writer = tf.summary.create_file_writer(
                os.path.join(self.log_dir, self.name)
            )
        images = self.images[: self.max_outputs]
        outputs = list(self.describe_fn(images))
        if len(outputs) != len(images):
            raise ValueError(
                f"`describe_fn` returned {len(outputs)} strings for "
                f"{len(images)} images; it must return one per image."
            )
        references = self.references
        if references is not None:
            references = references[: self.max_outputs]
        with self._writer.as_default():
            tf.summary.image(
                "images",
                uint8_images(images),
                step=epoch,
                max_outputs=self.max_outputs,
            )
            tf.summary.text("outputs", markdown_table(outputs, references), step=epoch)
        # Flushed now, not at the writer's next timer: the point is to look
        # at these while training goes on.
        self._writer.flush()

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()
            self._writer = None
