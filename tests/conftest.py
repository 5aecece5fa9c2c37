"""Test set-up: vlpk is imported first so Keras uses the TensorFlow backend."""

import vlpk  # noqa: F401
