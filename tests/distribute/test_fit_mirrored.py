"""`model.fit` under MirroredStrategy trains exactly like one device."""

import json
import os
import subprocess
import sys

import numpy as np

WORKER = os.path.join(os.path.dirname(__file__), "fit_mirrored_worker.py")


def test_fit_under_mirrored_strategy_matches_single_device():
    out = subprocess.run(
        [sys.executable, WORKER], capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    # Same initial weights, same global batches, global negatives: the two
    # replicas end where one device does, and report the same mean loss.
    assert result["weights_diff"] < 1e-5, result
    np.testing.assert_allclose(
        result["mirrored_loss"], np.mean(result["single_losses"]), rtol=1e-5
    )
