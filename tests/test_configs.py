"""Every experiment config loads, validates, and its smoke version trains."""

import dataclasses
import glob
import json
import os

import keras
import numpy as np
import pytest

from vlpk.config import ImageConfig, PretrainConfig, load_config
from vlpk.data import ImagePreprocessor, read_shapes, write_shapes
from vlpk.data.pipelines.pretraining import masked_lm_generator, pretraining_dataset
from vlpk.errors import InputError
from vlpk.jobs.recipes import (
    build_image_encoder,
    build_losses,
    build_model,
    build_optimizer,
    compile_for_pretraining,
)
from vlpk.jobs.run_dir import load_run
from vlpk.tasks import FinetuneConfig
from vlpk.text import TextPreprocessor, learn_vocabulary, wordpiece_tokenizer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIGS = sorted(glob.glob(os.path.join(ROOT, "training", "configs", "*.py")))


def test_the_documented_configs_exist():
    names = {os.path.basename(p)[:-3] for p in CONFIGS}
    assert {
        "shapes_tiny",
        "shapes_siglip",
        "shapes_albef",
        "shapes_coca",
        "coco_vgg16_concat",
        "coco_clip_vitb16_bert",
        "coco_albef_base",
        "finetune_retrieval",
        "finetune_classify",
        "finetune_vqa",
        "finetune_caption",
    } <= names


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: os.path.basename(p)[:-3])
def test_config_names_its_command_and_validates(path):
    source = open(path).read()
    config = load_config(path)
    if isinstance(config, FinetuneConfig):
        assert f"vlpk finetune --task {config.task} " in source
        assert f"--config training/configs/{os.path.basename(path)}" in source
        assert load_config(path, smoke=True).validate().steps_per_epoch == 2
        return
    assert "vlpk pretrain --config training/configs/" in source or (
        "vlpk quickstart" in source
    )
    if config.data.name == "coco":
        # Full COCO configs need the data paths, and say so.
        with pytest.raises(InputError, match="data.train_annotations"):
            config.validate()
    else:
        config.validate()
    assert load_config(path, smoke=True).validate().data.name == "shapes"


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    root = tmp_path_factory.mktemp("shapes")
    write_shapes(root, seed=0, image_size=64, splits={"train": 8})
    return read_shapes(root, "train")


# The Shapes configs run end to end in test_quickstart.py and
# test_pretrain_objectives.py; the COCO ones (GPU-scale) only here.
COCO_CONFIGS = [p for p in CONFIGS if os.path.basename(p).startswith("coco_")]


@pytest.mark.parametrize("path", COCO_CONFIGS, ids=lambda p: os.path.basename(p)[:-3])
def test_smoke_config_builds_and_takes_a_training_step(path, shapes):
    config = load_config(path, smoke=True)
    keras.utils.set_random_seed(0)
    vocabulary = learn_vocabulary([c for e in shapes for c in e.captions], 120)
    tokenizer = wordpiece_tokenizer(vocabulary)
    model = build_model(config, tokenizer.vocabulary_size())
    losses, weights, metrics = build_losses(config)
    assert set(losses) == set(config.objectives)
    model.compile(
        optimizer=build_optimizer(config.optimization, 10),
        loss=losses,
        loss_weights=weights,
        metrics=metrics or None,
        # One eager step: the same maths, without tracing a GPU-scale
        # architecture (the Shapes configs train in graph mode end to end).
        run_eagerly=True,
    )
    dataset = pretraining_dataset(
        shapes,
        ImagePreprocessor(config.image.size),
        TextPreprocessor(tokenizer, config.text.sequence_length),
        objectives=tuple(config.objectives),
        mask_generator=masked_lm_generator(tokenizer, config.text.sequence_length),
        batch_size=4,
    )
    history = model.fit(dataset.take(1), epochs=1, verbose=0).history
    # Keras names per-output losses only when there are several.
    keys = [f"{n}_loss" for n in config.objectives] if len(losses) > 1 else ["loss"]
    for key in keys:
        assert np.isfinite(history[key][0]), key


def test_overrides_parse_objectives_and_optional_fields():
    config = PretrainConfig().override(
        ["objectives=contrastive:1,captioning:2", "optimization.checkpoint_every=50"]
    )
    assert config.objectives == {"contrastive": 1.0, "captioning": 2.0}
    assert config.optimization.checkpoint_every == 50
    with pytest.raises(InputError, match="objectives"):
        PretrainConfig().override(["objectives=matching:1"]).validate()
    with pytest.raises(InputError, match="masked_lm needs token-level fusion"):
        PretrainConfig().override(
            ["objectives=contrastive:1,masked_lm:1", "fusion.kind=concat"]
        ).validate()


def test_finetune_config_overrides_and_round_trips():
    config = FinetuneConfig(task="classify").override(
        ["templates=a photo of a {}, small.|a {}.", "rerank_k=0", "linear_probe=true"]
    )
    assert config.templates == ("a photo of a {}, small.", "a {}.")
    assert config.linear_probe is True and config.rerank_k == 0
    assert FinetuneConfig.from_dict(config.to_dict()) == config
    with pytest.raises(InputError, match="Unknown task"):
        FinetuneConfig(task="segmentation").validate()
    with pytest.raises(InputError, match="exactly one"):
        FinetuneConfig().override(["templates=no slot"]).validate()
    # A run's config.json stores tuples as lists; they come back as tuples.
    pretrain = PretrainConfig.from_dict(
        json.loads(json.dumps(PretrainConfig().to_dict()))
    )
    assert pretrain == PretrainConfig()
    with pytest.raises(InputError, match="does not know"):
        PretrainConfig.from_dict({"no_such_field": 1})


def test_shard_folders_are_set_with_data_train():
    config = FinetuneConfig().override(["data.train=shards/pets/train"])
    assert config.data.uses_shards and config.data.train == "shards/pets/train"
    assert FinetuneConfig.from_dict(config.to_dict()) == config
    with pytest.raises(InputError, match="set data.train=PATH too"):
        FinetuneConfig().override(["data.test=shards/pets/test"]).validate()
    pretrain = PretrainConfig().override(["data.train=shards/f8k/train"])
    assert pretrain.data.label == "shards"
    # The vision-LM job reads Shapes or conversation shards, not COCO.
    from vlpk.config.vision_lm import VisionLMConfig

    assert VisionLMConfig().override(["data.train=shards/llava/train"]).validate()
    coco = ["data.name=coco"] + [
        f"data.{key}=x"
        for key in (
            "train_annotations",
            "train_image_dir",
            "val_annotations",
            "val_image_dir",
        )
    ]
    with pytest.raises(InputError, match="data.train=FOLDER"):
        VisionLMConfig().override(coco).validate()


# One `--set` per block of `PretrainConfig`, and the value each must land on.
DOTTED = {
    "image.backbone=resnet50": ("image", "backbone", "resnet50"),
    "text.layers=4": ("text", "layers", 4),
    "fusion.kind=concat": ("fusion", "kind", "concat"),
    "decoder.sampler=beam": ("decoder", "sampler", "beam"),
    "data.train_images=12": ("data", "train_images", 12),
    "optimization.epochs=3": ("optimization", "epochs", 3),
    "distribution.precision=mixed_bfloat16": (
        "distribution",
        "precision",
        "mixed_bfloat16",
    ),
}


def test_set_takes_a_dotted_key_in_every_block():
    default = PretrainConfig()
    blocks = {k for k, v in default.to_dict().items() if isinstance(v, dict)}
    blocks.discard("objectives")
    assert {block for block, _, _ in DOTTED.values()} == blocks
    config = default.override(list(DOTTED)).validate()
    changed = {}
    for block in blocks:
        for field, value in getattr(config, block).to_dict().items():
            if value != getattr(getattr(default, block), field):
                changed[(block, field)] = value
    # Each key set its own field, and nothing else moved.
    assert changed == {(b, f): v for b, f, v in DOTTED.values()}
    assert config.text.layers == 4 and default.text.layers == 2


def test_an_unknown_key_lists_the_keys_of_its_block():
    with pytest.raises(InputError) as error:
        PretrainConfig().override(["text.layer=4"])
    message = str(error.value)
    assert "Unknown key text.layer." in message
    keys = [k for k in PretrainConfig().keys() if k.startswith("text.")]
    assert "text.layers" in keys and all(k in message for k in keys)
    assert "image.size" not in message  # only the block's own keys
    # A bare field of a block names the dotted key; a bad block names them all.
    with pytest.raises(InputError, match=r"Did you mean optimization\.epochs\?"):
        PretrainConfig().override(["epochs=3"])
    with pytest.raises(InputError, match="no block 'model'.*image, text"):
        PretrainConfig().override(["model.layers=2"])
    with pytest.raises(InputError, match="Keys of fusion: fusion.kind"):
        PretrainConfig().replace(fusion={"kinds": "concat"})


def test_nested_to_dict_round_trips_through_json():
    config = PretrainConfig().override(
        [*DOTTED, "image.widths=8,16", "text.preset=/models/bert", "seed=3"]
    )
    data = json.loads(json.dumps(config.to_dict()))
    assert data["image"]["widths"] == [8, 16] and data["text"]["layers"] == 4
    assert data["optimization"]["epochs"] == 3 and data["seed"] == 3
    again = PretrainConfig.from_dict(data)
    assert again == config and again.image.widths == (8, 16)
    with pytest.raises(InputError, match=r"\['text.layer'\]"):
        PretrainConfig.from_dict(dict(data, text={"layer": 4}))


def test_an_old_flat_config_json_is_refused(tmp_path):
    flat = {
        "name": "quickstart",
        "image_size": 64,
        "text_layers": 2,
        "fusion": "cross_attention",
        "epochs": 10,
    }
    with pytest.raises(InputError, match="written by another vlpk version"):
        PretrainConfig.from_dict(flat)
    # As `vlpk finetune --from` and `vlpk export` read a run folder.
    (tmp_path / "config.json").write_text(json.dumps(flat))
    with pytest.raises(InputError) as error:
        load_run(tmp_path)
    message = str(error.value)
    assert str(tmp_path / "config.json") in message and "text.layers" in message


def test_resnet50_backbone_builds_through_recipes_and_trains_a_step():
    config = PretrainConfig().smoke()
    config = config.override(["image.backbone=resnet50", "image.size=32"]).validate()
    assert config.image.weights is None  # random weights: nothing to download
    keras.utils.set_random_seed(0)
    model = build_model(config, vocabulary_size=50)
    assert model.backbone.image_encoder.backbone.name == "resnet50"
    assert model.backbone.image_encoder.pixel_normalization.mode == "caffe"
    compile_for_pretraining(model, config, total_steps=2)
    rng = np.random.default_rng(0)
    length = config.text.sequence_length
    x = {
        "images": rng.uniform(0, 255, (8, 32, 32, 3)).astype("float32"),
        "token_ids": rng.integers(1, 50, (8, length)).astype("int32"),
        "padding_mask": np.ones((8, length), "int32"),
    }
    kernel = model.backbone.image_encoder.backbone.get_layer("conv1_conv").kernel
    before = np.array(kernel)
    # Eager steps: the same maths, without a minute of tracing ResNet-50.
    model.run_eagerly = True
    # Two steps: the warm-up starts from a learning rate of 0.
    history = model.fit(x, {"contrastive": np.arange(8)}, batch_size=4, verbose=0)
    assert int(model.optimizer.iterations) == 2
    assert np.isfinite(history.history["loss"][0])
    assert not np.allclose(before, np.array(kernel))  # the backbone trained


def test_image_backbone_names_resolve_or_say_what_to_set():
    assert ImageConfig(backbone="VGG16").kind() == "applications"
    assert ImageConfig(backbone="vit_base_patch16_224_imagenet").kind() == "keras_hub"
    assert ImageConfig(backbone="keras_cv:resnet18").kind() == "keras_cv"
    with pytest.raises(InputError, match="Unknown image.backbone 'resnet5'"):
        ImageConfig(backbone="resnet5").validate()
    # A keras.applications model vlpk has no normalization for needs one set.
    with pytest.raises(InputError, match="set image.normalization"):
        ImageConfig(backbone="mobilenetv2").validate()
    ImageConfig(backbone="mobilenetv2", normalization="tf").validate()
    with pytest.raises(InputError, match="takes image.weights None or preset"):
        ImageConfig(backbone="/models/vit", weights="imagenet").validate()
    # "none" is a normalization mode, not None.
    config = PretrainConfig().override(["image.normalization=none"])
    assert config.image.normalization == "none"


def test_a_keras_hub_preset_folder_is_an_image_backbone(tmp_path):
    from tests.encoders.test_keras_hub_image import tiny_vit

    vit = tiny_vit()  # 32 pixels, 16-pixel patches, 16 wide
    # Weights no initializer gives, so loaded ones tell from fresh ones.
    vit.set_weights([w + 0.1 for w in vit.get_weights()])
    vit.save_to_preset(str(tmp_path))
    image = ImageConfig(
        backbone=str(tmp_path), weights="preset", size=32, normalization="tf"
    ).validate()
    encoder = build_image_encoder(image, output="tokens")
    images = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3))
    expected = vit(keras.ops.convert_to_tensor(images / 127.5 - 1, "float32"))
    np.testing.assert_allclose(encoder(images), expected, rtol=1e-4, atol=1e-4)
    # weights=None: the preset's architecture with fresh random weights.
    random = dataclasses.replace(image, weights=None)  # `replace` skips None
    fresh = build_image_encoder(random, output="tokens")
    assert fresh.output_shape == encoder.output_shape
    assert not np.allclose(fresh(images), expected, atol=1e-3)


@pytest.mark.kerascv
def test_a_keras_cv_preset_is_an_image_backbone(monkeypatch):
    keras_cv = pytest.importorskip("keras_cv")
    from tests.encoders.test_keras_cv_image import tiny_resnet

    calls = []

    def from_preset(preset, load_weights=True):
        calls.append((preset, load_weights))
        return tiny_resnet(include_rescaling=True)

    monkeypatch.setattr(keras_cv.models.Backbone, "from_preset", from_preset)
    image = ImageConfig(backbone="keras_cv:resnet18", size=32).validate()
    encoder = build_image_encoder(image)
    assert calls == [("resnet18", False)]
    # The backbone rescales its inputs itself: no second normalization.
    assert encoder.pixel_normalization.mode == "none"
    assert encoder.output_shape == (None, 64)
