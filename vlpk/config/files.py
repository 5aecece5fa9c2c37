"""Loading a config from an experiment file under `training/configs/`."""

import importlib.util
import os

from vlpk.errors import InputError


def load_config(path, smoke=False):
    """Loads `config` from an experiment file (and applies `smoke()` if asked).

    Args:
        path: a Python file defining a module-level `config`.
        smoke: shrink it with the file's `smoke(config)`, or with
            `config.smoke()` when the file defines none.
    """
    if not os.path.isfile(path):
        raise InputError(f"No config file at {path}.")
    spec = importlib.util.spec_from_file_location("vlpk_experiment_config", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if not hasattr(module, "config"):
        raise InputError(f"{path} defines no module-level `config`.")
    config = module.config
    if smoke:
        config = module.smoke(config) if hasattr(module, "smoke") else config.smoke()
    return config
