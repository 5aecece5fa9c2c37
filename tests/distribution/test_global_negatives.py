"""Global negatives under MirroredStrategy equal the single-device loss."""

import pytest

from tests.distribution.workers import run_json_worker


@pytest.fixture(scope="module")
def results():
    return run_json_worker("global_negatives_worker.py")


def matches_single_device(result):
    return (
        abs(result["loss_single"] - result["loss_mirrored"]) <= 1e-5
        and result["max_grad_diff"] <= 1e-5
    )


@pytest.mark.parametrize("loss", ["contrastive", "sigmoid"])
def test_global_negatives_match_single_device(results, loss):
    result = results[f"{loss}_global"]
    assert matches_single_device(result), result


@pytest.mark.parametrize("loss", ["contrastive", "sigmoid"])
def test_local_negatives_fail_the_same_check(results, loss):
    # The same check must catch a loss that sees only its replica's slice.
    result = results[f"{loss}_local"]
    assert not matches_single_device(result), result
