"""LoRA adapters saved on their own, loaded into a fresh model; a merged `.keras`."""

import keras
import keras_hub
import numpy as np

from tests.language_models import learn_gpt2_bpe
from tests.models.test_vision_lm import backbone, preprocessor, raw_examples
from vlpk.models.presets import load_task
from vlpk.models.vision_lm import VisionCausalLM
from vlpk.models.vision_lm.adapters import load_adapters, save_adapters


def tiny_task():
    vocabulary, merges = learn_gpt2_bpe()
    tokenizer = keras_hub.models.GPT2Tokenizer(vocabulary=vocabulary, merges=merges)
    model = backbone("gpt2", vocabulary_size=tokenizer.vocabulary_size())
    return VisionCausalLM(model, preprocessor(tokenizer))


def test_adapters_reload_into_a_fresh_model_and_merge_into_keras(tmp_path):
    task = tiny_task()
    task.save_to_preset(str(tmp_path / "base"))
    task.backbone.language_model.enable_lora(2)
    task.compile(optimizer=keras.optimizers.Adam(0.05))
    data = raw_examples()
    task.fit(data, epochs=3, batch_size=4, verbose=0)
    trained = task.predict(data, verbose=0)
    save_adapters(task, str(tmp_path / "adapters"))

    fresh = load_task(str(tmp_path / "base"))
    assert not np.allclose(fresh.predict(data, verbose=0), trained, atol=1e-3)
    # The LM's adapters alone are not the model: the connector trained too.
    fresh.backbone.language_model.load_lora_weights(
        str(tmp_path / "adapters" / "lora.lora.h5")
    )
    assert not np.allclose(fresh.predict(data, verbose=0), trained, atol=1e-3)
    fresh = load_task(str(tmp_path / "base"))
    load_adapters(fresh, str(tmp_path / "adapters"))
    np.testing.assert_allclose(fresh.predict(data, verbose=0), trained, atol=1e-5)

    task.save(str(tmp_path / "merged.keras"))
    merged = keras.saving.load_model(str(tmp_path / "merged.keras"))
    assert not any("lora" in w.path for w in merged.weights)
    np.testing.assert_allclose(merged.predict(data, verbose=0), trained, atol=1e-5)
