"""Every experiment config loads, validates, and its smoke version trains."""

import glob
import json
import os

import keras
import numpy as np
import pytest

from vlpk.config import PretrainConfig, load_config
from vlpk.data import ImagePreprocessor, read_shapes, write_shapes
from vlpk.data.pretraining import masked_lm_generator, pretraining_dataset
from vlpk.errors import InputError
from vlpk.jobs.recipes import build_losses, build_model, build_optimizer
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
    if config.dataset == "coco":
        # Full COCO configs need the data paths, and say so.
        with pytest.raises(InputError, match="coco_train_annotations"):
            config.validate()
    else:
        config.validate()
    assert load_config(path, smoke=True).validate().dataset == "shapes"


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
        optimizer=build_optimizer(config, 10),
        loss=losses,
        loss_weights=weights,
        metrics=metrics or None,
    )
    dataset = pretraining_dataset(
        shapes,
        ImagePreprocessor(config.image_size),
        TextPreprocessor(tokenizer, config.sequence_length),
        objectives=tuple(config.objectives),
        mask_generator=masked_lm_generator(tokenizer, config.sequence_length),
        batch_size=4,
    )
    history = model.fit(dataset.take(1), epochs=1, verbose=0).history
    # Keras names per-output losses only when there are several.
    keys = [f"{n}_loss" for n in config.objectives] if len(losses) > 1 else ["loss"]
    for key in keys:
        assert np.isfinite(history[key][0]), key


def test_overrides_parse_objectives_and_optional_fields():
    config = PretrainConfig().override(
        ["objectives=contrastive:1,captioning:2", "checkpoint_every=50"]
    )
    assert config.objectives == {"contrastive": 1.0, "captioning": 2.0}
    assert config.checkpoint_every == 50
    with pytest.raises(InputError, match="objectives"):
        PretrainConfig().override(["objectives=matching:1"]).validate()
    with pytest.raises(InputError, match="masked_lm needs token-level fusion"):
        PretrainConfig().override(
            ["objectives=contrastive:1,masked_lm:1", "fusion=concat"]
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
