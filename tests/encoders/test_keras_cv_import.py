import sys

import pytest

from vlpk.encoders import image_encoder_from_keras_cv


def test_missing_keras_cv_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "keras_cv", None)  # makes the import fail
    with pytest.raises(ImportError, match=r'pip install "vlpk\[kerascv\]"'):
        image_encoder_from_keras_cv(object())
