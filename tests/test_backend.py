import subprocess
import sys

import keras


def test_keras_runs_on_tensorflow():
    assert keras.backend.backend() == "tensorflow"


def test_other_backend_is_refused_with_a_clear_message():
    result = subprocess.run(
        [sys.executable, "-c", "import vlpk"],
        env={"KERAS_BACKEND": "jax", "PATH": ""},
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert "KERAS_BACKEND=tensorflow" in result.stderr
