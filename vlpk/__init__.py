"""vlpk: a vision-language pretraining kit for Keras and TensorFlow."""

from vlpk import backend as _backend  # noqa: F401  (must run before keras loads)

# Importing the packages registers every vlpk layer, model, loss and metric
# with Keras, so `import vlpk` is all `keras.saving.load_model` needs.
from vlpk import data, encoders, layers, losses, metrics, models, text  # noqa: E402, F401

__version__ = "0.1.0"
