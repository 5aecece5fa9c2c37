"""Keras callbacks for vision-language training, TensorBoard logging included.

Evaluation callbacks add validation metrics to the logs; the TensorBoard ones
write what `keras.callbacks.TensorBoard` does not (learning rate, sample
captions, the embedding projector).
"""

from vlpk.callbacks.evaluation import CaptionBleu, RetrievalEvaluation
from vlpk.callbacks.learning_rate import LearningRateLogger
from vlpk.callbacks.projector import EmbeddingProjector, write_projector
from vlpk.callbacks.samples import SampleSummaries
from vlpk.callbacks.summaries import image_text_projector, training_summaries

__all__ = [
    "CaptionBleu",
    "EmbeddingProjector",
    "LearningRateLogger",
    "RetrievalEvaluation",
    "SampleSummaries",
    "image_text_projector",
    "training_summaries",
    "write_projector",
]
