"""`model.fit` under MirroredStrategy trains exactly like one device."""

import numpy as np

from tests.distribution.workers import run_json_worker


def test_fit_under_mirrored_strategy_matches_single_device():
    result = run_json_worker("fit_mirrored_worker.py")
    # Same initial weights, same global batches, global negatives: the two
    # replicas end where one device does, and report the same mean loss.
    assert result["weights_diff"] < 1e-5, result
    np.testing.assert_allclose(
        result["mirrored_loss"], np.mean(result["single_losses"]), rtol=1e-5
    )


def test_vision_lm_trains_on_two_replicas_like_one_device():
    result = run_json_worker("vision_lm_mirrored_worker.py")
    # Training moved the weights, and both distributed paths (the
    # `mirrored` job's fit, the `multi_worker` job's step) followed one device.
    assert result["moved"] > 1e-3, result
    assert result["fit_diff"] < 1e-5, result
    assert result["trainer_diff"] < 1e-5, result
    np.testing.assert_allclose(
        result["trainer_losses"], result["single_losses"], rtol=1e-5
    )
    np.testing.assert_allclose(
        result["fit_loss"], np.mean(result["single_losses"]), rtol=1e-5
    )
