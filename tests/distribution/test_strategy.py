import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.models.conftest import tiny_image_encoder, tiny_text_encoder
from vlpk.distribution import build_strategy, set_precision
from vlpk.errors import InputError
from vlpk.losses import ContrastiveLoss
from vlpk.models import DualEncoderBackbone


def test_default_and_mirrored():
    assert build_strategy("default") is tf.distribute.get_strategy()
    mirrored = build_strategy("mirrored", devices=["/cpu:0"])
    assert isinstance(mirrored, tf.distribute.MirroredStrategy)
    assert mirrored.num_replicas_in_sync == 1


def test_bad_strategy_and_tf_config(monkeypatch):
    with pytest.raises(InputError, match="choose one of"):
        build_strategy("horovod")
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(InputError, match="needs TF_CONFIG"):
        build_strategy("multi_worker")
    monkeypatch.setenv("TF_CONFIG", "{not json")
    with pytest.raises(InputError, match="malformed"):
        build_strategy("multi_worker")
    config = {
        "cluster": {"worker": ["localhost:1"]},
        "task": {"type": "worker", "index": 3},
    }
    monkeypatch.setenv("TF_CONFIG", json.dumps(config))
    with pytest.raises(InputError, match="index 3"):
        build_strategy("multi_worker")


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
def test_mixed_precision_trains_with_float32_loss(batch, policy):
    set_precision(policy)
    try:
        model = DualEncoderBackbone(
            tiny_image_encoder(), tiny_text_encoder(), embedding_dim=8
        )
        assert model.output["image_embedding"].dtype == policy.split("_")[1]
        model.compile(
            keras.optimizers.Adam(1e-3), loss={"contrastive": ContrastiveLoss()}
        )
        history = model.fit(batch, {"contrastive": np.arange(4)}, epochs=2, verbose=0)
        assert np.isfinite(history.history["loss"]).all()
    finally:
        set_precision("float32")
    with pytest.raises(InputError, match="choose one of"):
        set_precision("int8")
