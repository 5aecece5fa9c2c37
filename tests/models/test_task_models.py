"""Retrieval on a pretrained backbone: the re-ranking scorer and the task."""

import numpy as np
import tensorflow as tf

from tests.models.conftest import tiny_image_encoder, tiny_text_encoder
from vlpk.data.pipelines.image_preprocessor import ImagePreprocessor
from vlpk.data.records.example import Example
from vlpk.layers import CrossAttentionFusion
from vlpk.models import ImageTextPretrainer, VisionLanguageBackbone
from vlpk.tasks.retrieval import pair_scorer, retrieval_task
from vlpk.text import TextPreprocessor, wordpiece_tokenizer


def albef_backbone():
    return VisionLanguageBackbone(
        tiny_image_encoder("tokens"),
        tiny_text_encoder(),
        fusion=CrossAttentionFusion(num_layers=1, num_heads=2, intermediate_dim=16),
        embedding_dim=8,
    )


def test_pair_scorer_agrees_with_the_backbone(batch, tmp_path):
    # Re-ranking scores pairs from cached features; that must equal scoring
    # the raw (image, text) pairs end to end.
    backbone = albef_backbone()
    images = np.round(batch["images"]).astype("uint8")
    words = ["red", "blue", "circle", "square"]
    vocabulary = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + words
    text_preprocessor = TextPreprocessor(wordpiece_tokenizer(vocabulary), 6)
    captions = ["red circle", "blue square", "red square", "blue circle"]
    examples = []
    for i, (pixels, caption) in enumerate(zip(images, captions)):
        path = tmp_path / f"{i}.png"
        path.write_bytes(tf.io.encode_png(pixels).numpy())
        examples.append(Example(str(path), i, (caption,)))
    texts = {k: np.asarray(v) for k, v in text_preprocessor(captions).items()}
    score = pair_scorer(backbone, examples, ImagePreprocessor(32), text_preprocessor)
    cached = score(np.arange(4), np.arange(4))
    direct = backbone({**texts, "images": images.astype("float32")})
    np.testing.assert_allclose(cached, direct["matching_logits"], atol=1e-5)
    assert np.ptp(cached) > 0  # distinct pairs score differently


def test_retrieval_task_shares_the_pretrained_backbone(batch):
    objectives = ("contrastive", "matching", "masked_lm")
    source = ImageTextPretrainer(albef_backbone(), objectives=objectives, seed=0)
    task = retrieval_task(source)
    assert task.objectives == ("contrastive", "matching")
    # The same backbone object: nothing is rebuilt or copied.
    assert task.backbone is source.backbone
    x = dict(batch, image_id=np.arange(4, dtype="int32"))
    masked = dict(x, masked_token_ids=x["token_ids"])
    masked["mask_positions"] = np.ones((4, 2), "int32")
    np.testing.assert_allclose(
        task(x)["contrastive"],
        source(
            dict(
                x,
                masked_token_ids=x["token_ids"],
                mask_positions=np.ones((4, 2), "int32"),
            )
        )["contrastive"],
        atol=1e-6,
    )
    # A task that trains only retrieval's heads is fine-tuned as it is.
    assert retrieval_task(task) is task
