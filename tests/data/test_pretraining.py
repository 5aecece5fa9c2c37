"""The multi-objective pretraining pipeline (matching, masked LM, captioning)."""

import keras
import numpy as np
import pytest

from vlpk.data.image_preprocessor import ImagePreprocessor
from vlpk.data.pretraining import masked_lm_generator, pretraining_dataset
from vlpk.data.synthetic import read_shapes, write_shapes
from vlpk.text import TextPreprocessor, learn_vocabulary, wordpiece_tokenizer

LENGTH = 16
ALL = ("contrastive", "matching", "masked_lm", "captioning")


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    root = tmp_path_factory.mktemp("shapes")
    write_shapes(root, seed=0, image_size=32, splits={"train": 12})
    train = read_shapes(root, "train")
    vocabulary = learn_vocabulary([c for e in train for c in e.captions], 120)
    tokenizer = wordpiece_tokenizer(vocabulary)
    return train, tokenizer


def dataset(shapes, objectives=ALL, seed=0):
    train, tokenizer = shapes
    keras.utils.set_random_seed(seed)
    return pretraining_dataset(
        train,
        ImagePreprocessor(32),
        TextPreprocessor(tokenizer, LENGTH),
        objectives=objectives,
        mask_generator=masked_lm_generator(tokenizer, LENGTH),
        batch_size=8,
        seed=seed,
    )


def test_every_objective_gets_its_inputs_and_targets(shapes):
    x, y = next(iter(dataset(shapes)))
    assert set(x) == {
        "images",
        "token_ids",
        "padding_mask",
        "image_id",
        "masked_token_ids",
        "mask_positions",
    }
    assert set(y) == set(ALL)
    np.testing.assert_array_equal(x["image_id"], y["contrastive"])
    np.testing.assert_array_equal(y["matching"], np.tile([[1.0, 0.0, 0.0]], (8, 1)))
    tokens = np.asarray(x["token_ids"])
    np.testing.assert_array_equal(y["captioning"][:, :-1], tokens[:, 1:])
    np.testing.assert_array_equal(y["captioning"][:, -1], 0)
    for key in ("image_id", "masked_token_ids", "mask_positions"):
        assert x[key].dtype == "int32", key


def test_masked_lm_masks_real_tokens_only_and_targets_the_originals(shapes):
    _, tokenizer = shapes
    special = {tokenizer.token_to_id(t) for t in ("[PAD]", "[CLS]", "[SEP]")}
    mask_id = tokenizer.token_to_id("[MASK]")
    selected = changed = 0
    for x, y in dataset(shapes):
        tokens = np.asarray(x["token_ids"])
        masked = np.asarray(x["masked_token_ids"])
        positions = np.asarray(x["mask_positions"])
        targets = np.asarray(y["masked_lm"])
        for row in range(tokens.shape[0]):
            used = targets[row] != 0
            picked = positions[row][used]
            # Targets are the original tokens at the selected positions...
            np.testing.assert_array_equal(targets[row][used], tokens[row, picked])
            # ...never a special token...
            assert not special & set(tokens[row, picked].tolist())
            # ...and outside them the text is untouched.
            others = np.setdiff1d(np.arange(LENGTH), picked)
            np.testing.assert_array_equal(masked[row, others], tokens[row, others])
            selected += used.sum()
            changed += (masked[row, picked] == mask_id).sum()
    real = sum(
        int((np.asarray(x["padding_mask"]).sum(axis=1) - 2).sum())
        for x, _ in dataset(shapes)
    )
    assert 0.08 < selected / real < 0.25, selected / real  # about 15%
    assert 0.6 < changed / selected <= 1.0  # about 80% become [MASK]


def test_objectives_choose_the_keys(shapes):
    x, y = next(iter(dataset(shapes, objectives=("contrastive", "captioning"))))
    assert set(x) == {"images", "token_ids", "padding_mask"}
    assert set(y) == {"contrastive", "captioning"}


def test_masked_lm_without_a_generator_is_refused(shapes):
    train, tokenizer = shapes
    with pytest.raises(ValueError, match="mask_generator"):
        pretraining_dataset(
            train,
            ImagePreprocessor(32),
            TextPreprocessor(tokenizer, LENGTH),
            objectives=ALL,
        )
