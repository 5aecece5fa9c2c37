"""The image preprocessor: encoded bytes in, resized float pixels out.

One layer serves both the `tf.data` training pipeline and the exported serving
graph, so the two decode, guard and resize identically.
"""

import keras
import tensorflow as tf

# 64 megapixels: far above any real photo a vision-language model is fed, far
# below a decompression bomb that declares 30000 x 30000 pixels.
DEFAULT_MAX_PIXELS = 64 * 1024 * 1024


def image_dimensions(image_bytes):
    """Reads `(height, width)` from a JPEG or PNG header without decoding.

    Returns `(-1, -1)` for other formats (GIF, BMP), whose decoders are cheap
    to bound by file size.
    """
    is_jpeg = tf.strings.substr(image_bytes, 0, 3) == b"\xff\xd8\xff"
    is_png = tf.strings.substr(image_bytes, 0, 8) == b"\x89PNG\r\n\x1a\n"

    def jpeg_shape():
        shape = tf.image.extract_jpeg_shape(image_bytes)
        return tf.cast(shape[0], tf.int64), tf.cast(shape[1], tf.int64)

    def png_shape():
        # IHDR: width then height, big-endian uint32 at byte offsets 16 and 20.
        header = tf.io.decode_raw(tf.strings.substr(image_bytes, 16, 8), tf.uint8)
        header = tf.cast(header, tf.int64)
        width = header[0] * 2**24 + header[1] * 2**16 + header[2] * 2**8 + header[3]
        height = header[4] * 2**24 + header[5] * 2**16 + header[6] * 2**8 + header[7]
        return height, width

    def unknown():
        return tf.constant(-1, tf.int64), tf.constant(-1, tf.int64)

    return tf.case([(is_jpeg, jpeg_shape), (is_png, png_shape)], default=unknown)


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
        float32 pixels in `[0, 255]`, `[H, W, 3]` or `[batch, H, W, 3]`.

    Example:
    >>> preprocessor = ImagePreprocessor(image_size=64)
    >>> images = preprocessor(tf.io.read_file("cat.jpg"))  # [64, 64, 3]
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

    def decode_one(self, image_bytes):
        height, width = image_dimensions(image_bytes)
        tf.debugging.assert_less_equal(
            height * width,
            tf.constant(self.max_pixels, tf.int64),
            message=f"image declares more than max_pixels={self.max_pixels} pixels",
        )
        image = tf.io.decode_image(image_bytes, channels=3, expand_animations=False)
        # An image already at the target size (pre-resized web data) skips the
        # resize: antialiased resizing at scale 1 is the identity anyway.
        same_size = tf.reduce_all(tf.shape(image)[:2] == tf.constant(self.image_size))
        image = tf.cond(
            same_size,
            lambda: tf.cast(image, tf.float32),
            lambda: tf.image.resize(image, self.image_size, antialias=True),
        )
        image = tf.clip_by_value(image, 0.0, 255.0)
        return tf.ensure_shape(image, self.image_size + (3,))

    def call(self, image_bytes):
        image_bytes = tf.convert_to_tensor(image_bytes, tf.string)
        if image_bytes.shape.rank == 0:
            return self.decode_one(image_bytes)
        return tf.map_fn(
            self.decode_one,
            image_bytes,
            fn_output_signature=tf.TensorSpec(self.image_size + (3,), tf.float32),
        )

    def compute_output_spec(self, image_bytes):
        shape = tuple(image_bytes.shape) + self.image_size + (3,)
        return keras.KerasTensor(shape, dtype="float32")

    def get_config(self):
        config = super().get_config()
        config.update(
            {"image_size": list(self.image_size), "max_pixels": self.max_pixels}
        )
        return config
