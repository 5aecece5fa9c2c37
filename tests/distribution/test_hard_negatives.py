"""Hard negatives come from the global batch, and gradients reach their owners."""

import math

import pytest

from tests.distribution.workers import run_json_worker


@pytest.fixture(scope="module")
def results():
    return run_json_worker("hard_negatives_worker.py")


def matches_single_device(result):
    return result["max_output_diff"] <= 1e-6 and result["max_grad_diff"] <= 1e-5


def test_mirrored_replicas_draw_negatives_from_the_global_batch(results):
    assert matches_single_device(results["global"]), results["global"]


def test_local_only_candidates_fail_the_same_check(results):
    # Every text's hardest image sits on the other replica.
    assert not matches_single_device(results["local"]), results["local"]


def test_albef_pretrainer_fits_under_mirrored_strategy(results):
    # Gathered tokens picked with tf.gather send back IndexedSlices, which
    # all_gather's gradient cannot take; vlpk densifies them.
    losses = results["albef_fit"]["losses"]
    assert len(losses) == 2 and all(math.isfinite(v) for v in losses), losses
