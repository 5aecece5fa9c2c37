"""The image preprocessor: encoded bytes in, resized float pixels out.

One layer serves both the `tf.data` training pipeline and the exported serving
graph, so the two decode, guard and resize identically.
"""

import keras
import tensorflow as tf

# 64 megapixels: far above any real photo a vision-language model is fed, far
# below a decompression bomb that declares 30000 x 30000 pixels.
DEFAULT_MAX_PIXELS = 64 * 1024 * 1024


_JPEG = b"\xff\xd8\xff"
_PNG = b"\x89PNG\r\n\x1a\n"
# Formats `tf.io.decode_image` decodes, recognised by their first bytes.
SIGNATURES = (_JPEG, _PNG, b"GIF87a", b"GIF89a", b"BM")


def image_dimensions(image_bytes):
    """Reads `(height, width)` from a JPEG or PNG header without decoding.

    Safe on any bytes: it returns `(-1, -1)` for other formats (GIF, BMP), whose
    decoders are cheap to bound by file size, and for bytes that are no image.
    Only a JPEG reaches `tf.image.extract_jpeg_shape` (the one branch, since a
    `tf.cond` costs about as much as the header parse); the PNG size is read
    from a zero-padded copy of the first 24 bytes, so short input cannot make
    `substr` fail.
    """
    # At most 24 bytes are copied, then padded: every offset below exists.
    head = tf.strings.substr(image_bytes, 0, 24) + b"\0" * 24
    is_jpeg = tf.strings.substr(head, 0, 3) == _JPEG
    is_png = tf.strings.substr(head, 0, 8) == _PNG
    # IHDR: width then height, big-endian uint32 at byte offsets 16 and 20.
    ihdr = tf.cast(tf.io.decode_raw(tf.strings.substr(head, 16, 8), tf.uint8), tf.int64)
    ihdr = tf.reshape(ihdr, [2, 4])
    png_width, png_height = tf.unstack(
        tf.reduce_sum(ihdr * tf.constant([2**24, 2**16, 2**8, 1], tf.int64), axis=1)
    )
    unknown = tf.constant(-1, tf.int64)
    png_or_unknown = (
        tf.where(is_png, png_height, unknown),
        tf.where(is_png, png_width, unknown),
    )

    def jpeg_shape():
        shape = tf.cast(tf.image.extract_jpeg_shape(image_bytes), tf.int64)
        return shape[0], shape[1]

    return tf.cond(is_jpeg, jpeg_shape, lambda: png_or_unknown)


def is_known_image(image_bytes):
    """Whether the first bytes are those of a format `decode_image` reads."""
    head = tf.strings.substr(image_bytes, 0, 8)
    return tf.reduce_any(
        tf.stack([tf.strings.substr(head, 0, len(s)) == s for s in SIGNATURES])
    )


def decode_full_size(image_bytes, max_pixels=DEFAULT_MAX_PIXELS, checked=False):
    """Decodes one image to uint8 `[H, W, 3]` at its own size, after the guard.

    The pixel count in the header is compared with `max_pixels` before any
    pixel is decoded, so a decompression bomb fails with an
    `InvalidArgumentError` instead of exhausting memory. For callers that
    resize in their own way (a KerasHub image converter's crop and bicubic
    resize); `ImagePreprocessor` decodes with it too.

    Args:
        image_bytes: a scalar string tensor (JPEG, PNG, GIF or BMP bytes).
        max_pixels: the largest `height * width` accepted.
        checked: the caller has already compared the header with
            `max_pixels`, so it is not read a second time.

    Returns:
        A uint8 tensor `[H, W, 3]`.

    Example:
    >>> png = tf.io.encode_png(tf.zeros((5, 7, 3), tf.uint8))
    >>> decode_full_size(png).shape
    TensorShape([5, 7, 3])
    """
    if not checked:
        height, width = image_dimensions(image_bytes)
        tf.debugging.assert_less_equal(
            height * width,
            tf.constant(max_pixels, tf.int64),
            message=f"image declares more than max_pixels={max_pixels} pixels",
        )
    return tf.io.decode_image(image_bytes, channels=3, expand_animations=False)


@keras.saving.register_keras_serializable(package="vlpk")
class ImagePreprocessor(keras.layers.Layer):
    """Decodes JPEG/PNG/GIF/BMP bytes, guards their size and resizes them.

    The pixel count is read from the file header before decoding: an image
    that declares more than `max_pixels` pixels is rejected with an
    `InvalidArgumentError` instead of exhausting memory.

    Args:
        image_size: the output side length (int) or `(height, width)`.
        max_pixels: the largest `height * width` accepted.

    Call arguments:
        image_bytes: a string tensor, scalar or `[batch]`.

    Returns:
        float32 pixels in `[0, 255]`, `[H, W, 3]` or `[batch, H, W, 3]`; whole
        numbers, also after a resize (see `decode_uint8`).

    Example:
    >>> png = tf.io.encode_png(tf.zeros((5, 7, 3), tf.uint8))
    >>> preprocessor = ImagePreprocessor(image_size=64)
    >>> preprocessor(png).shape
    TensorShape([64, 64, 3])
    """

    def __init__(self, image_size=64, max_pixels=DEFAULT_MAX_PIXELS, **kwargs):
        super().__init__(**kwargs)
        self._convert_input_args = False
        self._allow_non_tensor_positional_args = True
        if isinstance(image_size, int):
            image_size = (image_size, image_size)
        self.image_size = tuple(int(s) for s in image_size)
        self.max_pixels = int(max_pixels)
        # No weights: built from the start, so it can be tracked for export.
        self.built = True

    def decode_uint8(self, image_bytes, checked=False):
        """Decodes one image to uint8 pixels `[H, W, 3]` at `image_size`.

        These are the pixels the layer returns, before the cast to float32:
        the `tf.data` pipelines carry them (a quarter of the memory and copy
        time in shuffle buffers, caches and batching) and cast whole batches.
        A resized image is rounded to whole pixel values, as a resize to a
        uint8 image (PIL, OpenCV) would give.

        Args:
            image_bytes: a scalar string tensor.
            checked: the caller has already compared the header's pixel count
                with `max_pixels` (as `vlpk.data.decode_guarded` does), so the
                header is not read a second time.

        Returns:
            A uint8 tensor `[H, W, 3]`.
        """
        image = decode_full_size(image_bytes, self.max_pixels, checked=checked)

        def resize():
            resized = tf.image.resize(image, self.image_size, antialias=True)
            return tf.cast(tf.clip_by_value(tf.round(resized), 0.0, 255.0), tf.uint8)

        # An image already at the target size (pre-resized web data) skips the
        # resize: antialiased resizing at scale 1 is the identity anyway.
        same_size = tf.reduce_all(tf.shape(image)[:2] == tf.constant(self.image_size))
        image = tf.cond(same_size, lambda: image, resize)
        return tf.ensure_shape(image, self.image_size + (3,))

    def decode_one(self, image_bytes):
        """Decodes one image to float32 pixels `[H, W, 3]` in `[0, 255]`."""
        return tf.cast(self.decode_uint8(image_bytes), tf.float32)

    def call(self, image_bytes):
        image_bytes = tf.convert_to_tensor(image_bytes, tf.string)
        if image_bytes.shape.rank == 0:
            return self.decode_one(image_bytes)
        return tf.map_fn(
            self.decode_one,
            image_bytes,
            fn_output_signature=tf.TensorSpec(self.image_size + (3,), tf.float32),
        )

    def pixels(self, images):
        """Model pixels from image bytes or from pixels, batched or not.

        Bytes are decoded (`call`); pixels (uint8 or float in 0–255) are
        resized to `image_size` with the same rounding as decoded images.
        """
        images = tf.convert_to_tensor(images)
        if images.dtype == tf.string:
            return self(images)
        pixels = tf.cast(images, "float32")
        if tuple(pixels.shape[-3:-1]) == self.image_size:
            return pixels
        resized = tf.image.resize(pixels, self.image_size, antialias=True)
        # Rounded like `decode_uint8`.
        return tf.clip_by_value(tf.round(resized), 0.0, 255.0)

    def compute_output_spec(self, image_bytes):
        shape = tuple(image_bytes.shape) + self.image_size + (3,)
        return keras.KerasTensor(shape, dtype="float32")

    def get_config(self):
        config = super().get_config()
        config.update(
            {"image_size": list(self.image_size), "max_pixels": self.max_pixels}
        )
        return config
