"""A KerasHub CLIP or SigLIP preset as the backbone of vlpk's contrastive task.

The tiny presets are the session fixtures of `tests/conftest.py`. Each test
loads what it changes from the preset folder; the fixture's own objects are
what KerasHub computes, to compare with.
"""

import numpy as np
import pytest
import tensorflow as tf

from tests.encoders.test_load_keras_hub_preset import no_network  # noqa: F401
from tests.test_case import assert_allclose_tree, run_preprocessor_test
from vlpk.encoders import WeightsUnavailableError
from vlpk.losses import ContrastiveLoss, SigmoidContrastiveLoss, unpack_contrastive
from vlpk.models import (
    ContrastivePretrainer,
    KerasHubContrastivePreprocessor,
    KerasHubContrastivePretrainer,
    KerasHubDualEncoderBackbone,
)


@pytest.fixture(params=["clip", "siglip"])
def preset(request):
    return request.getfixturevalue(f"keras_hub_{request.param}_preset")


def head_of(keras_hub_backbone):
    head = getattr(keras_hub_backbone, "clip_head", None)
    return keras_hub_backbone.siglip_head if head is None else head


def raw_pairs(preset):
    """The sample images as PNG bytes (lossless) and their captions."""
    images = [tf.io.encode_png(image).numpy() for image in preset.images]
    return {"images": np.array(images, dtype=object), "text": np.array(preset.captions)}


def keras_hub_inputs(preset):
    """KerasHub's own preprocessing of the sample pixels (float32: Keras's
    `Resizing` rounds uint8 images back to uint8 when called eagerly)."""
    return preset.preprocessor(
        {"images": preset.images.astype("float32"), "prompts": list(preset.captions)}
    )


def normalized(x):
    x = np.asarray(x)
    return x / np.sqrt(np.sum(x**2, axis=-1, keepdims=True))


def test_backbone_equals_keras_hub(preset):
    backbone = KerasHubDualEncoderBackbone.from_keras_hub_preset(preset.path)
    hub = backbone.keras_hub_backbone
    head = head_of(hub)
    # Trained-looking values. SigLIP's scale is above CLIP's cap of 100, as
    # released SigLIP checkpoints learn; it must pass uncapped.
    if hasattr(head, "logit_bias"):
        head.logit_scale.assign(np.log(117.0))
        head.logit_bias.assign(-3.0)
    else:
        head.logit_scale.assign(np.log(50.0))
    hub_inputs = keras_hub_inputs(preset)
    # vlpk's backbone takes 0–255 pixels: the converter's resize, no scaling.
    resize = preset.preprocessor.image_converter.resizing
    pixels = resize(preset.images.astype("float32"))
    outputs = backbone(
        {
            "images": pixels,
            "token_ids": hub_inputs["token_ids"],
            "padding_mask": tf.cast(hub_inputs["padding_mask"], "int32"),
        }
    )
    vision = hub.get_vision_embeddings(hub_inputs["images"])
    text = hub.get_text_embeddings(hub_inputs["token_ids"])
    np.testing.assert_allclose(
        outputs["image_embedding"], normalized(vision), atol=1e-5
    )
    np.testing.assert_allclose(outputs["text_embedding"], normalized(text), atol=1e-5)

    # The packed scale (and bias) reproduce KerasHub's logits.
    image, text, scale, bias = unpack_contrastive(outputs["contrastive"])
    text_logits = float(scale) * np.matmul(text, np.transpose(image))
    if bias is not None:
        text_logits += float(bias)
    logits = hub({"images": hub_inputs["images"], "token_ids": hub_inputs["token_ids"]})
    np.testing.assert_allclose(text_logits, logits["text_logits"], atol=1e-5)
    np.testing.assert_allclose(text_logits.T, logits["vision_logits"], atol=1e-5)

    # The head's variables are shared, and none is added.
    assert backbone.logit_scale_layer.head is head
    assert [id(w) for w in backbone.weights] == [id(w) for w in hub.weights]
    assert backbone.temperature == pytest.approx(1 / np.exp(float(head.logit_scale)))
    assert backbone.has_logit_bias == (bias is not None)


def test_preprocessor_equals_keras_hub(preset):
    preprocessor = KerasHubContrastivePreprocessor.from_keras_hub_preset(preset.path)
    x = raw_pairs(preset)
    inputs, y = preprocessor(x)
    hub_inputs = keras_hub_inputs(preset)
    np.testing.assert_array_equal(inputs["token_ids"], hub_inputs["token_ids"])
    assert inputs["padding_mask"].dtype == tf.int32  # not bool: see Mirrored
    np.testing.assert_array_equal(
        inputs["padding_mask"], np.asarray(hub_inputs["padding_mask"], "int32")
    )
    # Decoded bytes, cropped and resized by the converter, then (in the
    # backbone) its scale and offset: KerasHub's images.
    converter = preset.preprocessor.image_converter
    scaled = inputs["images"] * np.asarray(converter.scale) + converter.offset
    np.testing.assert_allclose(scaled, hub_inputs["images"], atol=1e-5)
    # Pixels, and one example at a time.
    from_pixels = preprocessor.preprocess_images(preset.images)
    np.testing.assert_allclose(from_pixels, inputs["images"], atol=1e-5)
    one, _ = preprocessor({"images": x["images"][1], "text": x["text"][1]})
    assert_allclose_tree(one, {k: v[1] for k, v in inputs.items()})
    assert y["contrastive"].shape == (4,)


def test_preprocessor_in_tf_data_and_pixel_guard(keras_hub_siglip_preset):
    # The config round trip, and batched and unbatched `tf.data` equal to
    # the direct call. SigLIP only: CLIP's KerasHub tokenizer takes seconds
    # to trace per `tf.data` map, and the code under test here is the same.
    preprocessor = KerasHubContrastivePreprocessor.from_keras_hub_preset(
        keras_hub_siglip_preset.path
    )
    x = raw_pairs(keras_hub_siglip_preset)
    run_preprocessor_test(preprocessor, None, {**x, "image_id": np.arange(4)})
    # Bytes are decoded under vlpk's pixel guard (these declare 480 pixels).
    guarded = KerasHubContrastivePreprocessor(
        preprocessor.preprocessor, preprocessor.image_converter, max_pixels=100
    )
    with pytest.raises(tf.errors.InvalidArgumentError, match="max_pixels=100"):
        guarded(x)


@pytest.mark.parametrize(
    "name, loss_cls",
    [
        ("siglip", SigmoidContrastiveLoss),
        # CLIP's tokenizer makes this `fit` about 15 s on two CPUs.
        pytest.param("clip", ContrastiveLoss, marks=pytest.mark.slow),
    ],
)
def test_fit_trains_the_heads_own_variables(request, name, loss_cls):
    preset = request.getfixturevalue(f"keras_hub_{name}_preset")
    task = ContrastivePretrainer(
        KerasHubDualEncoderBackbone.from_keras_hub_preset(preset.path),
        KerasHubContrastivePreprocessor.from_keras_hub_preset(preset.path),
    )
    assert isinstance(task.loss["contrastive"], loss_cls)
    # Eagerly: this checks which variables train, not graph tracing (the
    # export test traces the model).
    task.compile(run_eagerly=True)
    head = head_of(task.backbone.keras_hub_backbone)
    head_variables = [head.logit_scale] + (
        [head.logit_bias] if name == "siglip" else []
    )
    before = [float(v) for v in head_variables]
    x = raw_pairs(preset)
    history = task.fit(x, batch_size=2, epochs=1, verbose=0)  # two steps
    assert np.isfinite(history.history["loss"][0])
    trained = {id(v) for v in task.trainable_variables}
    for variable, old in zip(head_variables, before):
        assert id(variable) in trained
        assert float(variable) != old, variable.path


def test_task_preset_round_trip(
    keras_hub_clip_preset, keras_hub_siglip_preset, tmp_path
):
    for preset in (keras_hub_clip_preset, keras_hub_siglip_preset):
        task = ContrastivePretrainer(
            KerasHubDualEncoderBackbone.from_keras_hub_preset(preset.path),
            KerasHubContrastivePreprocessor.from_keras_hub_preset(preset.path),
        )
        # As if trained: the head's values must travel with the task.
        head = head_of(task.backbone.keras_hub_backbone)
        head.logit_scale.assign(1.5)
        x = raw_pairs(preset)
        inputs, _ = task.preprocessor(x)
        expected = task(inputs)["contrastive"]

        folder = str(tmp_path / preset.path.split("/")[-1])
        task.save_to_preset(folder)
        # The saved task comes back as its own class, whatever its backbone
        # (`VisionLanguageTask.from_preset` reads `task.json`).
        revived = ContrastivePretrainer.from_preset(folder)
        assert type(revived) is ContrastivePretrainer
        assert type(revived.backbone) is KerasHubDualEncoderBackbone
        revived_inputs, _ = revived.preprocessor(x)
        assert_allclose_tree(revived_inputs, inputs, atol=0, rtol=0)
        np.testing.assert_allclose(
            revived(revived_inputs)["contrastive"], expected, atol=1e-6
        )
        revived_head = head_of(revived.backbone.keras_hub_backbone)
        assert float(revived_head.logit_scale) == 1.5

    # Without `task.json` (a backbone and preprocessor saved alone), KerasHub
    # finds the task subclass bound to this backbone class.
    bare = str(tmp_path / "backbone_only")
    task.backbone.save_to_preset(bare)
    task.preprocessor.save_to_preset(bare)
    built = ContrastivePretrainer.from_preset(bare)
    assert type(built) is KerasHubContrastivePretrainer
    np.testing.assert_allclose(built(inputs)["contrastive"], expected, atol=1e-6)


def test_preset_name_offline(no_network):  # noqa: F811
    with pytest.raises(WeightsUnavailableError, match="clip_vit_base_patch16"):
        KerasHubDualEncoderBackbone.from_keras_hub_preset("clip_vit_base_patch16")
    with pytest.raises(WeightsUnavailableError, match="siglip_base_patch16_224"):
        KerasHubContrastivePreprocessor.from_keras_hub_preset("siglip_base_patch16_224")
    assert no_network, "KerasHub did not try the network"
