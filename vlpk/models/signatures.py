"""The raw inputs every SavedModel signature takes."""

import tensorflow as tf

# Encoded image files (JPEG, PNG, GIF, BMP), one per row.
IMAGE_BYTES = tf.TensorSpec([None], tf.string, name="image_bytes")
# UTF-8 strings, one per row.
TEXT = tf.TensorSpec([None], tf.string, name="text")
