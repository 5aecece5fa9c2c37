"""Embedding Projector files, written without `TensorBoard(embeddings_freq=)`.

Keras 3's `keras.callbacks.TensorBoard(embeddings_freq=...)` only saves the
model weights as `.h5` and writes no projector config, so the Projector tab
stays empty (keras-team/keras#20210). This module writes what TensorBoard's
projector plugin reads, into a run folder of its own:

```
<log_dir>/projector/       the run (`EmbeddingProjector`'s default)
  events.out.tfevents.*    empty; it makes the folder a run TensorBoard lists
  projector_config.pbtxt   which tensor, metadata and sprite go together
  checkpoint               TF checkpoint state: the latest `<name>-<step>`
  <name>-<step>.index, .data-00000-of-00001   the [N, D] tensor, key `<name>`
  metadata.tsv             one label row per embedding (+ header if several)
  sprite.png               the images tiled into a square grid
```

Why a folder of its own: for a run folder without a checkpoint, the plugin
takes the checkpoint of the folder *above* it (`_find_latest_checkpoint` in
`projector_plugin.py`) but not that folder's `projector_config.pbtxt`.
Projector files written into the root log dir therefore also showed up under
`train`, `validation` and `samples`, unlabelled and without a sprite.
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


def make_sprite(images, cells=None):
    """Tiles images into the square sprite the Embedding Projector shows.

    Image `i` goes to row `i // side`, column `i % side` of a `side x side`
    grid, `side = ceil(sqrt(cells))`; unused cells stay black. Thumbnails keep
    the aspect ratio and are at most 64 px, smaller when needed to keep the
    sprite within 8192 px a side; small images are not enlarged.

    Args:
        images: `[N, H, W, 3]` uint8 or 0-255 images.
        cells: the number of grid cells, at least `N` (the default): one per
            embedding, when only the first `N` embeddings have an image.

    Returns:
        `(sprite, (thumbnail_height, thumbnail_width))`, the sprite a uint8
        `[side * h, side * w, 3]` array.

    Example:
    >>> sprite, (h, w) = make_sprite(np.zeros((5, 128, 96, 3), "uint8"))
    >>> sprite.shape, (h, w)
    ((192, 144, 3), (64, 48))
    >>> make_sprite(np.zeros((2, 8, 8, 3), "uint8"), cells=5)[0].shape
    (24, 24, 3)
    """
    images = uint8_images(images)
    count, height, width = images.shape[:3]
    cells = count if cells is None else cells
    if cells < count:
        raise ValueError(f"Got {count} images for {cells} sprite cells.")
    side = math.ceil(math.sqrt(cells))
    limit = min(MAX_THUMBNAIL_SIZE, MAX_SPRITE_SIZE // side)
    scale = min(1.0, limit / max(height, width))
    thumb_h, thumb_w = max(1, int(height * scale)), max(1, int(width * scale))
    if side * max(thumb_h, thumb_w) > MAX_SPRITE_SIZE:
        raise ValueError(
            f"{cells} cells do not fit in a {MAX_SPRITE_SIZE} px sprite; "
            "pass fewer embeddings."
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


def _sprite_png(images, cells):
    """`(png bytes, (thumbnail height, width))` of a sprite of `cells` cells."""
    sprite, thumbnail = make_sprite(images, cells)
    png = io.BytesIO()
    Image.fromarray(sprite).save(png, format="PNG")
    return png.getvalue(), thumbnail


def _as_matrix(embeddings):
    embeddings = np.asarray(keras.ops.convert_to_numpy(embeddings), np.float32)
    if embeddings.ndim != 2:
        raise ValueError(
            f"Expected embeddings shaped [N, D], got shape {embeddings.shape}."
        )
    return embeddings


def _check_inputs(embeddings, labels, images, name):
    """Checks everything before anything is written; returns the metadata."""
    if not name.isidentifier():
        raise ValueError(
            f"`name` must be a Python identifier (it names the checkpoint "
            f"tensor), got {name!r}."
        )
    count = len(embeddings)
    if images is not None and len(images) > count:
        raise ValueError(f"Got {len(images)} images for {count} embeddings.")
    if labels is None:
        return None
    metadata, rows = metadata_tsv(labels)
    if rows != count:
        raise ValueError(f"Got {rows} labels for {count} embeddings.")
    return metadata


def write_projector(
    log_dir, embeddings, labels=None, images=None, name="embeddings", step=0
):
    """Writes embeddings, labels and images for TensorBoard's projector.

    Files are replaced atomically, and the config last, so a running
    TensorBoard never reads a half-written step. Only the latest checkpoint is
    kept. One tensor per `log_dir`: a second `name` replaces the first.

    Give it a folder of its own, not a log dir with runs below it: each run
    folder right below a checkpoint shows that checkpoint in the projector,
    unlabelled (see the module docstring).

    Args:
        log_dir: the run folder to write into, such as `logs/projector`;
            created if needed, with an empty event file so that TensorBoard
            lists it as a run.
        embeddings: `[N, D]` array of embeddings.
        labels: optional labels, one per row: a list of strings or numbers
            (one metadata column), or a list of dicts or a dict of columns
            (several columns). See `metadata_tsv`.
        images: optional `[K, H, W, 3]` uint8 or 0-255 images, `K <= N`,
            tiled into `sprite.png` as the thumbnails of the first `K` rows;
            later rows (text embeddings, say) get blank cells.
        name: the tensor's name in the checkpoint and in the projector. A
            Python identifier.
        step: the checkpoint number, such as the epoch. Use a new one at each
            write so that a reader of the previous checkpoint is not disturbed.

    Returns:
        The `ProjectorConfig` that was written.

    Example:
    >>> import tempfile
    >>> log_dir = os.path.join(tempfile.mkdtemp(), "projector")
    >>> config = write_projector(
    ...     log_dir, np.eye(3, 4),
    ...     labels={"modality": ["image", "text", "text"],
    ...             "caption": ["a red circle", "a red circle", "a circle"]},
    ...     images=np.zeros((1, 8, 8, 3)), name="image_text_embeddings")
    >>> config.embeddings[0].tensor_name
    'image_text_embeddings'
    >>> tf.train.load_checkpoint(log_dir).get_tensor("image_text_embeddings").shape
    (3, 4)
    """
    embeddings = _as_matrix(embeddings)
    metadata = _check_inputs(embeddings, labels, images, name)
    sprite = None if images is None else _sprite_png(images, len(embeddings))
    return _write_files(log_dir, embeddings, metadata, sprite, name, step)


def _mark_as_run(log_dir):
    # TensorBoard lists a folder as a run, and the projector plugin looks in
    # it, only when it holds an event file. An empty one, just the header,
    # adds nothing to the other tabs.
    if not tf.io.gfile.glob(os.path.join(log_dir, "events.out.tfevents.*")):
        tf.summary.create_file_writer(log_dir).close()


def _save_checkpoint(log_dir, embeddings, name, step):
    """Saves checkpoint `<name>-<step>`; returns the prefixes it supersedes."""
    previous = tf.train.get_checkpoint_state(log_dir)
    prefix = f"{name}-{step}"
    # The projector lists a checkpoint's tensors by their keys, and
    # `tf.train.Checkpoint` would key this one "<name>/.ATTRIBUTES/
    # VARIABLE_VALUE". `SaveV2`, the op under both checkpoint APIs, keys it
    # `name` itself.
    tf.raw_ops.SaveV2(
        prefix=os.path.join(log_dir, prefix),
        tensor_names=[name],
        shape_and_slices=[""],
        tensors=[embeddings],
    )
    # The plugin finds the latest checkpoint through this state file, since
    # the config leaves `model_checkpoint_path` empty: a path there would be
    # either absolute (wrong once the log dir is copied) or relative to where
    # TensorBoard was started. Here it is relative to `log_dir`.
    state = f'model_checkpoint_path: "{prefix}"\n'
    state += f'all_model_checkpoint_paths: "{prefix}"\n'
    _atomic_write(os.path.join(log_dir, "checkpoint"), state.encode())
    if previous is None:
        return []
    old = previous.all_model_checkpoint_paths
    return [path for path in old if os.path.basename(path) != prefix]


def _write_files(log_dir, embeddings, metadata, sprite, name, step):
    tf.io.gfile.makedirs(log_dir)
    _mark_as_run(log_dir)
    stale = _save_checkpoint(log_dir, embeddings, name, step)

    config = projector.ProjectorConfig()
    embedding = config.embeddings.add()
    embedding.tensor_name = name
    embedding.tensor_shape.extend(embeddings.shape)
    if metadata is not None:
        _atomic_write(os.path.join(log_dir, METADATA_FILENAME), metadata.encode())
        embedding.metadata_path = METADATA_FILENAME
    if sprite is not None:
        png, (height, width) = sprite
        _atomic_write(os.path.join(log_dir, SPRITE_FILENAME), png)
        embedding.sprite.image_path = SPRITE_FILENAME
        embedding.sprite.single_image_dim.extend([width, height])
    # `projector.visualize_embeddings` writes this same text, but in place.
    _atomic_write(
        os.path.join(log_dir, "projector_config.pbtxt"),
        text_format.MessageToString(config).encode(),
    )
    # Only now that the config names the new checkpoint are the old ones gone.
    for prefix in stale:
        for path in (f"{prefix}.index", f"{prefix}.data-00000-of-00001"):
            if tf.io.gfile.exists(path):
                tf.io.gfile.remove(path)
    return config


class EmbeddingProjector(keras.callbacks.Callback):
    """Writes embeddings of a fixed sample for the Embedding Projector.

    Every `every` epochs it calls `embed_fn()` and writes the result with
    `write_projector` into the run `<log_dir>/<run>`, with the epoch as the
    checkpoint number. Use it instead of `keras.callbacks.TensorBoard(
    embeddings_freq=...)`, which writes nothing the projector can read in
    Keras 3. To see two modalities in one space, let `embed_fn` stack them,
    images first: `images` then gives the image rows their thumbnails.

    Args:
        log_dir: the TensorBoard log directory, best the same `log_dir` given
            to `keras.callbacks.TensorBoard`.
        embed_fn: a zero-argument callable returning an `[N, D]` array, for
            example the image embedder applied to fixed validation images.
        images: optional `[K, H, W, 3]` uint8 or 0-255 images, the
            thumbnails of the first `K <= N` rows.
        labels: optional labels, one per row (see `write_projector`).
        name: the tensor name shown in the projector.
        every: write every `every` epochs.
        run: the run (sub-directory of `log_dir`) written to, which must hold
            nothing else.

    Example:
    >>> import tempfile
    >>> log_dir = tempfile.mkdtemp()
    >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(3)])
    >>> model.compile("sgd", "mse")
    >>> x = np.eye(4, 2, dtype="float32")
    >>> callback = EmbeddingProjector(
    ...     log_dir, lambda: model.predict(x, verbose=0),
    ...     images=np.zeros((4, 8, 8, 3)), labels=["a", "b", "c", "d"],
    ...     name="points")
    >>> _ = model.fit(x, np.zeros((4, 3)), epochs=2, verbose=0,
    ...               callbacks=[callback])
    >>> os.path.basename(tf.train.latest_checkpoint(f"{log_dir}/projector"))
    'points-1'
    """

    def __init__(
        self,
        log_dir,
        embed_fn,
        images=None,
        labels=None,
        name="embeddings",
        every=1,
        run="projector",
    ):
        super().__init__()
        self.log_dir = log_dir
        self.embed_fn = embed_fn
        self.images = images
        self.labels = labels
        self.name = name
        self.every = every
        self.run = run
        self._sprite = None  # (cells, (png, thumbnail size))

    def on_epoch_end(self, epoch, logs=None):
        if (epoch + 1) % self.every:
            return
        embeddings = _as_matrix(self.embed_fn())
        metadata = _check_inputs(embeddings, self.labels, self.images, self.name)
        # The images do not change between epochs; resizing and PNG-encoding
        # them is most of the cost (about 3 s for 1000 images of 224 px).
        cells = len(embeddings)
        rebuild = self._sprite is None or self._sprite[0] != cells
        if self.images is not None and rebuild:
            self._sprite = (cells, _sprite_png(self.images, cells))
        sprite = None if self._sprite is None else self._sprite[1]
        _write_files(
            os.path.join(self.log_dir, self.run),
            embeddings,
            metadata,
            sprite,
            self.name,
            epoch,
        )
