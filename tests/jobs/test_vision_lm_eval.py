"""Generated-text scoring on Shapes, for vlpk's LMs and KerasHub's PaliGemma."""

import io

import keras
import keras_hub
import numpy as np
import sentencepiece
import tensorflow as tf

from tests.language_models import CORPUS
from vlpk.data.shapes.reader import read_shapes
from vlpk.data.synthetic import write_shapes
from vlpk.jobs.vision_lm_eval import evaluate_vision_lm, generate_texts


def tiny_pali_gemma():
    """KerasHub's own vision LM, tiny, from a config and a learned vocabulary."""
    proto = io.BytesIO()
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(CORPUS),
        model_writer=proto,
        vocab_size=60,
        hard_vocab_limit=False,
        character_coverage=1.0,
        **dict(pad_id=0, unk_id=1, bos_id=2, eos_id=3),
        **dict(pad_piece="<pad>", unk_piece="<unk>", bos_piece="<bos>"),
        eos_piece="<eos>",
        num_threads=1,
        minloglevel=2,
    )
    tokenizer = keras_hub.models.PaliGemmaTokenizer(proto=proto.getvalue())
    backbone = keras_hub.models.PaliGemmaBackbone(
        vocabulary_size=tokenizer.vocabulary_size(),
        image_size=16,
        **dict(num_layers=1, num_query_heads=2, num_key_value_heads=1),
        **dict(hidden_dim=16, intermediate_dim=32, head_dim=8),
        **dict(vit_patch_size=4, vit_num_heads=2, vit_hidden_dim=16),
        **dict(vit_num_layers=1, vit_intermediate_dim=32),
    )
    converter = keras_hub.layers.PaliGemmaImageConverter(image_size=(16, 16))
    preprocessor = keras_hub.models.PaliGemmaCausalLMPreprocessor(
        tokenizer, image_converter=converter, sequence_length=16
    )
    return keras_hub.models.PaliGemmaCausalLM(
        backbone=backbone, preprocessor=preprocessor
    )


def test_kerashub_pali_gemma_is_scored_as_a_ready_model(tmp_path):
    keras.utils.set_random_seed(0)
    write_shapes(
        tmp_path / "shapes",
        image_size=32,
        progress=False,
        splits={"train": 2, "val": 2, "test": 3},
    )
    task = tiny_pali_gemma()
    test = read_shapes(tmp_path / "shapes", "test")
    paths = [e.image_path for e in test]
    texts = generate_texts(task, paths, ["what shape is it?"] * 3)
    pixels = np.stack(
        [
            tf.image.resize(
                tf.io.decode_image(open(p, "rb").read(), 3), (16, 16)
            ).numpy()
            for p in paths
        ]
    )
    expected = task.generate(
        {"images": pixels, "prompts": ["what shape is it?"] * 3}, strip_prompt=True
    )
    assert texts == [t.strip() for t in expected]
    scores = evaluate_vision_lm(task, tmp_path / "shapes", "test", 2, tmp_path / "eval")
    assert scores["vqa"]["questions"] > 0
    assert set(scores["pope"]) == {"random", "popular", "adversarial"}
    assert all(s["total"] > 0 for s in scores["pope"].values())
    assert "CIDEr" in scores["caption"]
