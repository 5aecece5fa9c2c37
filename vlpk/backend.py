"""Makes sure Keras runs on the TensorFlow backend.

vlpk builds its input pipelines with `tf.data`, tokenizes with TF Text ops and
exports TF SavedModels, so Keras must use the TensorFlow backend. This module is
imported first by `vlpk/__init__.py`: it sets `KERAS_BACKEND` before Keras is
imported, and fails with an actionable message when Keras was already imported
with another backend.
"""

import os
import sys

# Quiet TensorFlow's C++ start-up logging unless the user asked for it.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


class BackendError(RuntimeError):
    """Raised when Keras is configured for a backend other than TensorFlow."""


def ensure_tensorflow_backend():
    """Selects the TensorFlow backend, or raises if another one is active."""
    requested = os.environ.get("KERAS_BACKEND")
    if requested and requested != "tensorflow":
        raise BackendError(
            f"vlpk needs the TensorFlow Keras backend, but KERAS_BACKEND="
            f"{requested!r}. Unset it or set KERAS_BACKEND=tensorflow."
        )
    os.environ["KERAS_BACKEND"] = "tensorflow"
    if "keras" in sys.modules:
        import keras

        active = keras.backend.backend()
        if active != "tensorflow":
            raise BackendError(
                f"Keras was imported with the {active!r} backend before vlpk. "
                "Import vlpk first or set KERAS_BACKEND=tensorflow."
            )


ensure_tensorflow_backend()
