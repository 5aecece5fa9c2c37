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
