"""docs/python_api.md's flows, at test size: ALBEF from raw Shapes to a SavedModel.

The page shows each flow at full size; this runs the same calls on a tiny
model and a few images, so the documented flow cannot silently break.
"""

import numpy as np
import tensorflow as tf

from vlpk.data import ImagePreprocessor, raw_pair_dataset, read_shapes, write_shapes
from vlpk.encoders import ImageEncoder, bert_encoder, small_cnn
from vlpk.export import export_saved_model
from vlpk.layers import CrossAttentionFusion
from vlpk.models import (
    ImageTextPretrainer,
    VisionLanguageBackbone,
    VisionLanguagePreprocessor,
)
from vlpk.text import learn_vocabulary, wordpiece_tokenizer


def test_albef_flow_raw_shapes_to_saved_model(tmp_path):
    sizes = {"train": 8, "val": 2, "test": 4}
    write_shapes(str(tmp_path / "shapes"), image_size=32, splits=sizes, progress=False)
    train = read_shapes(str(tmp_path / "shapes"), "train")
    test = read_shapes(str(tmp_path / "shapes"), "test")
    vocab = learn_vocabulary([c for e in train for c in e.captions], 120)

    # The page's lines, with tiny sizes.
    backbone = VisionLanguageBackbone(
        ImageEncoder(small_cnn(32, widths=(8, 16)), "tokens", "unit"),
        bert_encoder(len(vocab), num_layers=1, hidden_dim=16, intermediate_dim=32),
        fusion=CrossAttentionFusion(1, 2, 32),
        embedding_dim=16,
    )
    preprocessor = VisionLanguagePreprocessor(
        wordpiece_tokenizer(vocab),
        ImagePreprocessor(32),
        sequence_length=20,
        objectives=("contrastive", "matching", "masked_lm"),
    )
    task = ImageTextPretrainer(backbone, preprocessor)
    # The page keeps `compile()`'s defaults; eager steps here only save the
    # tracing (graph-mode `fit` on raw data: test_vision_language_family.py).
    task.compile(run_eagerly=True)
    history = task.fit(raw_pair_dataset(train, 8), epochs=1, verbose=0)
    scores = task.evaluate(
        raw_pair_dataset(test, 4, shuffle=False), return_dict=True, verbose=0
    )
    path = export_saved_model(task.serving_archive(), str(tmp_path), "albef")

    assert np.isfinite(history.history["loss"][0])
    assert {"matching_loss", "masked_lm_loss", "contrastive_loss"} <= set(scores)
    served = tf.saved_model.load(path)
    image = tf.io.read_file(test[0].image_path)
    score = served.score(image[None], tf.constant([test[0].captions[0]]))["score"]
    assert score.shape == (1,) and -1.0 <= float(score[0]) <= 1.0
