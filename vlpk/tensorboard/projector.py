"""Embedding Projector files, written without `TensorBoard(embeddings_freq=)`.

Keras 3's `keras.callbacks.TensorBoard(embeddings_freq=...)` only saves the
model weights as `.h5` and writes no projector config, so the Projector tab
stays empty (keras-team/keras#20210). This module writes what TensorBoard's
projector plugin reads:

```
<log_dir>/
  projector_config.pbtxt   which tensor, metadata and sprite go together
  checkpoint               TF checkpoint state: the latest `<name>-<step>`
  <name>-<step>.index, .data-00000-of-00001   the [N, D] embeddings
  metadata.tsv             one label row per embedding (+ header if several)
  sprite.png               the images tiled into a square grid
```

Point `tensorboard --logdir` at `log_dir` itself, or write into a directory
that already holds event files (a run, such as `<logdir>/train`): the plugin
looks for projector files in the root log dir and in run directories only.
"""

import io
import math
import os
import uuid
from collections.abc import Mapping

import keras
import numpy as np
import tensorflow as tf
from google.protobuf import text_format
from PIL import Image
from tensorboard.plugins import projector

METADATA_FILENAME = "metadata.tsv"
SPRITE_FILENAME = "sprite.png"
# The projector front end refuses sprites larger than 8192 px a side, and
# thumbnails above 64 px only slow it down.
MAX_THUMBNAIL_SIZE = 64
MAX_SPRITE_SIZE = 8192


def uint8_images(images):
    """Images as a uint8 `[N, H, W, 3]` array.

    Args:
        images: uint8 images, or numbers in 0-255 of any dtype, shaped
            `[N, H, W, 3]`, `[N, H, W, 1]` or `[N, H, W]`. Floats in 0-1 are
            *not* rescaled: multiply them by 255 first.

    Returns:
        A uint8 numpy array `[N, H, W, 3]`.

    Example:
    >>> uint8_images(np.full((2, 4, 4, 1), 255.0)).shape
    (2, 4, 4, 3)
    """
    images = keras.ops.convert_to_numpy(images)
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise ValueError(
            "Expected images shaped [N, H, W, 3] (or [N, H, W, 1]), got "
            f"shape {images.shape}."
        )
    if images.dtype != np.uint8:
        images = np.clip(np.round(images), 0, 255).astype(np.uint8)
    if images.shape[-1] == 1:
        images = np.repeat(images, 3, axis=-1)
    return images


def make_sprite(images):
    """Tiles images into the square sprite the Embedding Projector shows.

    Image `i` goes to row `i // side`, column `i % side` of a `side x side`
    grid, `side = ceil(sqrt(N))`; unused cells stay black. Thumbnails keep
    the aspect ratio and are at most 64 px, smaller when needed to keep the
    sprite within 8192 px a side; small images are not enlarged.

    Args:
        images: `[N, H, W, 3]` uint8 or 0-255 images.

    Returns:
        `(sprite, (thumbnail_height, thumbnail_width))`, the sprite a uint8
        `[side * h, side * w, 3]` array.

    Example:
    >>> sprite, (h, w) = make_sprite(np.zeros((5, 128, 96, 3), "uint8"))
    >>> sprite.shape, (h, w)
    ((192, 144, 3), (64, 48))
    """
    images = uint8_images(images)
    count, height, width = images.shape[:3]
    side = math.ceil(math.sqrt(count))
    limit = min(MAX_THUMBNAIL_SIZE, MAX_SPRITE_SIZE // side)
    scale = min(1.0, limit / max(height, width))
    thumb_h, thumb_w = max(1, int(height * scale)), max(1, int(width * scale))
    if side * max(thumb_h, thumb_w) > MAX_SPRITE_SIZE:
        raise ValueError(
            f"{count} images do not fit in a {MAX_SPRITE_SIZE} px sprite; "
            "pass fewer images."
        )
    sprite = np.zeros((side * thumb_h, side * thumb_w, 3), np.uint8)
    for index, image in enumerate(images):
        if (thumb_h, thumb_w) != (height, width):
            # Pillow's bilinear filter widens with the scale when shrinking,
            # so thumbnails are antialiased, not aliased point samples.
            image = np.asarray(
                Image.fromarray(image).resize(
                    (thumb_w, thumb_h), Image.Resampling.BILINEAR
                )
            )
        row, column = divmod(index, side)
        sprite[
            row * thumb_h : (row + 1) * thumb_h,
            column * thumb_w : (column + 1) * thumb_w,
        ] = image
    return sprite, (thumb_h, thumb_w)


def _cell(value):
    # A tab or newline inside a label would shift every later column or row.
    return " ".join(str(value).split())


def metadata_tsv(labels):
    """The text of `metadata.tsv` for `labels`.

    Args:
        labels: one label per embedding (a single column, no header); or one
            dict per embedding, or a dict of equally long columns (several
            columns, with a header row).

    Returns:
        `(text, row_count)`.

    Example:
    >>> metadata_tsv([{"shape": "circle", "color": "red"}])
    ('shape\\tcolor\\ncircle\\tred\\n', 1)
    """
    if isinstance(labels, Mapping):
        columns = list(labels)
        lengths = {len(labels[column]) for column in columns}
        if len(lengths) > 1:
            raise ValueError(
                f"Label columns {columns} have different lengths {lengths}."
            )
        rows = list(zip(*(labels[column] for column in columns)))
    else:
        labels = list(labels)
        if labels and isinstance(labels[0], Mapping):
            columns = list(labels[0])
            rows = [[row[column] for column in columns] for row in labels]
        else:
            columns = None
            rows = [[label] for label in labels]
    lines = ["\t".join(_cell(value) for value in row) for row in rows]
    # The projector takes the first line as a header exactly when it has a
    # tab, so a single column must not get one: it would become a data row.
    if columns is not None and len(columns) > 1:
        lines.insert(0, "\t".join(_cell(column) for column in columns))
    return "".join(line + "\n" for line in lines), len(rows)


def _atomic_write(path, data):
    # Write a temporary file and rename it over `path`, so that TensorBoard,
    # reading while we train, sees the old file or the new one, never half of
    # one. `tf.io.gfile` keeps remote log dirs (gs://) working, and its local
    # rename is `os.replace`.
    temp = f"{path}.tmp-{uuid.uuid4().hex}"
    with tf.io.gfile.GFile(temp, "wb") as file:
        file.write(data)
    tf.io.gfile.rename(temp, path, overwrite=True)


def _sprite_png(images):
    """`(png bytes, (thumbnail height, width), image count)` for `images`."""
    sprite, thumbnail = make_sprite(images)
    png = io.BytesIO()
    Image.fromarray(sprite).save(png, format="PNG")
    return png.getvalue(), thumbnail, len(images)


def write_projector(
    log_dir, embeddings, labels=None, images=None, name="embeddings", step=0
):
    """Writes embeddings, labels and images for TensorBoard's projector.

    Files are replaced atomically, and the config last, so a running
    TensorBoard never reads a half-written step. Only the latest checkpoint is
    kept. One embedding per `log_dir`: a second `name` replaces the first.

    Args:
        log_dir: the directory to write into, created if needed.
        embeddings: `[N, D]` array of embeddings.
        labels: optional labels, one per row: a list of strings or numbers
            (one metadata column), or a list of dicts or a dict of columns
            (several columns). See `metadata_tsv`.
        images: optional `[N, H, W, 3]` uint8 or 0-255 images, one per row,
            tiled into `sprite.png`.
        name: the variable name, shown as the tensor's name in the projector.
            A Python identifier.
        step: the checkpoint number, such as the epoch. Use a new one at each
            write so that a reader of the previous checkpoint is not disturbed.

    Returns:
        The `ProjectorConfig` that was written.

    Example:
    >>> write_projector("logs", image_embedder.predict(images),
    ...                 labels=captions, images=images, name="image")
    """
    sprite = None if images is None else _sprite_png(images)
    return _write_projector(log_dir, embeddings, labels, sprite, name, step)


def _write_projector(log_dir, embeddings, labels, sprite, name, step):
    embeddings = np.asarray(keras.ops.convert_to_numpy(embeddings), np.float32)
    if embeddings.ndim != 2:
        raise ValueError(
            f"Expected embeddings shaped [N, D], got shape {embeddings.shape}."
        )
    if not name.isidentifier():
        raise ValueError(
            f"`name` must be a Python identifier (it names a checkpoint "
            f"variable), got {name!r}."
        )
    count = len(embeddings)
    # Check everything before writing anything.
    if labels is not None:
        metadata, rows = metadata_tsv(labels)
        if rows != count:
            raise ValueError(f"Got {rows} labels for {count} embeddings.")
    if sprite is not None:
        png, (height, width), image_count = sprite
        if image_count != count:
            raise ValueError(f"Got {image_count} images for {count} embeddings.")
    tf.io.gfile.makedirs(log_dir)

    # The variable's checkpoint key is "<name>/.ATTRIBUTES/VARIABLE_VALUE".
    # The manager also writes the `checkpoint` state file with a path
    # relative to `log_dir`; the config below leaves `model_checkpoint_path`
    # empty so that the plugin finds the latest checkpoint through it. A path
    # in the config would be either absolute (wrong once the log dir is
    # copied) or relative to where TensorBoard was started.
    checkpoint = tf.train.Checkpoint(**{name: tf.Variable(embeddings, name=name)})
    manager = tf.train.CheckpointManager(
        checkpoint, log_dir, max_to_keep=1, checkpoint_name=name
    )
    manager.save(checkpoint_number=step)

    config = projector.ProjectorConfig()
    embedding = config.embeddings.add()
    embedding.tensor_name = f"{name}/.ATTRIBUTES/VARIABLE_VALUE"
    embedding.tensor_shape.extend(embeddings.shape)
    if labels is not None:
        _atomic_write(os.path.join(log_dir, METADATA_FILENAME), metadata.encode())
        embedding.metadata_path = METADATA_FILENAME
    if sprite is not None:
        _atomic_write(os.path.join(log_dir, SPRITE_FILENAME), png)
        embedding.sprite.image_path = SPRITE_FILENAME
        embedding.sprite.single_image_dim.extend([width, height])
    # `projector.visualize_embeddings` writes this same text, but in place.
    _atomic_write(
        os.path.join(log_dir, "projector_config.pbtxt"),
        text_format.MessageToString(config).encode(),
    )
    return config


class EmbeddingProjector(keras.callbacks.Callback):
    """Writes embeddings of a fixed sample for the Embedding Projector.

    Every `every` epochs it calls `embed_fn()` and passes the result to
    `write_projector`, with the epoch as the checkpoint number. Use it instead
    of `keras.callbacks.TensorBoard(embeddings_freq=...)`, which writes
    nothing the projector can read in Keras 3.

    Args:
        log_dir: the directory to write into; best the same `log_dir` given
            to `keras.callbacks.TensorBoard`.
        embed_fn: a zero-argument callable returning an `[N, D]` array, for
            example the image embedder applied to fixed validation images.
        images: optional `[N, H, W, 3]` uint8 or 0-255 images, one per row.
        labels: optional labels, one per row (see `write_projector`).
        name: the tensor name shown in the projector.
        every: write every `every` epochs.

    Example:
    >>> embedder = model.image_embedder()
    >>> callbacks = [EmbeddingProjector(
    ...     "logs", lambda: embedder.predict(pixels, verbose=0),
    ...     images=pixels, labels=captions, name="image")]
    """

    def __init__(
        self, log_dir, embed_fn, images=None, labels=None, name="embeddings", every=1
    ):
        super().__init__()
        self.log_dir = log_dir
        self.embed_fn = embed_fn
        self.images = images
        self.labels = labels
        self.name = name
        self.every = every
        self._sprite = None

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every:
            return
        # The images do not change between epochs; resizing and PNG-encoding
        # them is most of the cost (about 3 s for 1000 images of 224 px).
        if self.images is not None and self._sprite is None:
            self._sprite = _sprite_png(self.images)
        _write_projector(
            self.log_dir, self.embed_fn(), self.labels, self._sprite, self.name, epoch
        )
