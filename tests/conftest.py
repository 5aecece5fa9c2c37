"""Test set-up: vlpk is imported first so Keras uses the TensorFlow backend."""

import pytest

import vlpk  # noqa: F401

# Tests that take a minute or more (they wait on other processes, or run a
# guide or a notebook top to bottom), started first so that the other
# workers' short tests fill in after them instead of one worker finishing
# a long test alone at the end.
LONG_FIRST = (
    "tests/test_quickstart.py",
    "tests/test_resume.py",
    "tests/distribution/test_multi_worker.py",
    "tests/test_guides.py",
    "tests/notebooks/",
)


def pytest_ignore_collect(collection_path, config):
    """Only `test_*.py` files are collected under tests/.

    `--doctest-modules` (for vlpk's docstrings) would otherwise import every
    helper module here, and the worker scripts run their job on import.
    """
    name = collection_path.name
    if collection_path.suffix == ".py" and not name.startswith("test_"):
        return name not in ("conftest.py", "__init__.py")
    return None


def pytest_collection_modifyitems(config, items):
    """The shared pretraining runs' group first, then `LONG_FIRST`, then the rest.

    Under pytest-xdist the group (`xdist_group("pretrain_runs")`: the runs
    take minutes, then a dozen tests read them on one worker) would
    otherwise start last, leaving one worker busy long after the other.
    """

    def rank(item):
        if item.get_closest_marker("xdist_group"):
            return 0
        return 1 if item.nodeid.split("::")[0].startswith(LONG_FIRST) else 2

    items.sort(key=rank)  # stable: the order within each rank is kept


@pytest.fixture(scope="session")
def keras_hub_clip_preset(tmp_path_factory):
    """A tiny KerasHub CLIP preset folder, as a `TinyPreset`, built once.

    See `tests/keras_hub_presets.py`. The objects it holds are shared by the
    session: load a fresh copy from `.path` for anything that changes them.
    """
    from tests.keras_hub_presets import build_clip_preset

    return build_clip_preset(tmp_path_factory.mktemp("keras_hub_clip"))


@pytest.fixture(scope="session")
def keras_hub_siglip_preset(tmp_path_factory):
    """A tiny KerasHub SigLIP preset folder, as a `TinyPreset`, built once."""
    from tests.keras_hub_presets import build_siglip_preset

    return build_siglip_preset(tmp_path_factory.mktemp("keras_hub_siglip"))


@pytest.fixture(scope="session")
def pretrain_runs(tmp_path_factory):
    """The ALBEF, killed-ALBEF and CoCa smoke pretraining runs, started once
    for the session (see `tests/pretrain_runs.py`). Read them; don't change
    them: the pretraining and the fine-tuning tests share them."""
    from tests.pretrain_runs import start_all

    return start_all(tmp_path_factory)
