"""vlpk: a vision-language pretraining kit for Keras and TensorFlow."""

from vlpk import backend as _backend  # noqa: F401  (must run before keras loads)

__version__ = "0.1.0"
