"""TensorBoard logging that `keras.callbacks.TensorBoard` does not do."""

from vlpk.tensorboard.learning_rate import LearningRateLogger
from vlpk.tensorboard.projector import EmbeddingProjector, write_projector
from vlpk.tensorboard.samples import SampleSummaries
