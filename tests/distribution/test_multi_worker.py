"""`DistributedTrainer`: two localhost workers train exactly like one device.

The multi-worker tests launch `multi_worker_worker.py` as two
`MultiWorkerMirroredStrategy` workers on localhost (one CPU replica each) and
once alone on the full global batches, then compare final weights and losses.
The in-process tests check the trainer against `model.fit` and its errors.
"""

import json
import os
import subprocess
import sys
import time

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.distribution.multi_worker_worker import STEPS, build_model, global_dataset
from tests.distribution.workers import free_ports
from vlpk.distribution import DistributedTrainer, set_precision
from vlpk.errors import InputError
from vlpk.losses import ContrastiveLoss

WORKER = os.path.join(os.path.dirname(__file__), "multi_worker_worker.py")
TIMEOUT_S = 240
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def tail(path, chars=3000):
    with open(path) as f:
        return f.read()[-chars:]


def launch(mode, out, log, tf_config=None):
    env = dict(os.environ, PYTHONPATH=ROOT, CUDA_VISIBLE_DEVICES="")
    env.pop("TF_CONFIG", None)
    if tf_config is not None:
        env["TF_CONFIG"] = json.dumps(tf_config)
    with open(log, "w") as f:
        return subprocess.Popen(
            [sys.executable, WORKER, mode, str(out)],
            stdout=f,
            stderr=subprocess.STDOUT,
            env=env,
        )


def wait_all(processes, logs, deadline):
    """Waits for every process; kills them all when one fails or time is up."""
    while any(p.poll() is None for p in processes):
        failed = any(p.returncode for p in processes)
        if failed or time.monotonic() > deadline:
            for p in processes:
                p.kill()
            for p in processes:
                p.wait()
            break
        time.sleep(0.2)
    report = "\n".join(
        f"--- {log} (exit {p.returncode})\n{tail(log)}"
        for p, log in zip(processes, logs)
    )
    if time.monotonic() > deadline:
        pytest.fail(f"timed out after {TIMEOUT_S} s\n{report}")
    assert all(p.returncode == 0 for p in processes), report


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("multi_worker")
    start = time.monotonic()
    deadline = start + TIMEOUT_S
    ports = free_ports(2)
    cluster = {"worker": [f"localhost:{port}" for port in ports]}
    outs = [tmp / f"worker{i}.npz" for i in range(2)]
    logs = [tmp / f"worker{i}.log" for i in range(2)]
    workers = [
        launch(
            "worker",
            outs[i],
            logs[i],
            {"cluster": cluster, "task": {"type": "worker", "index": i}},
        )
        for i in range(2)
    ]
    wait_all(workers, logs, deadline)
    workers_s = time.monotonic() - start
    reference = launch("reference", tmp / "reference.npz", tmp / "reference.log")
    wait_all([reference], [tmp / "reference.log"], deadline)
    print(
        f"2 workers: {workers_s:.1f} s; reference: "
        f"{time.monotonic() - start - workers_s:.1f} s"
    )
    return [np.load(out) for out in outs], np.load(tmp / "reference.npz")


def weights(result, model):
    keys = sorted(
        (k for k in result.files if k.startswith(f"{model}_w")),
        key=lambda k: int(k.rsplit("w", 1)[1]),
    )
    assert keys, result.files
    return [result[k] for k in keys]


def max_diff(a, b):
    return max(float(np.abs(x - y).max()) for x, y in zip(a, b, strict=True))


@pytest.mark.parametrize("model", ["global", "auto", "local"])
def test_workers_end_with_identical_weights(runs, model):
    (worker0, worker1), _ = runs
    assert max_diff(weights(worker0, model), weights(worker1, model)) <= 1e-6
    np.testing.assert_array_equal(worker0[f"{model}_loss"], worker1[f"{model}_loss"])


@pytest.mark.parametrize("model", ["global", "auto"])
def test_two_workers_match_one_device(runs, model):
    # Same initial weights, each worker feeding its half of the global batch
    # (sliced by hand or auto-sharded): global negatives make the two workers
    # train exactly like one device on the whole batch.
    (worker0, _), reference = runs
    diff = max_diff(weights(worker0, model), weights(reference, model))
    assert diff <= 1e-5, diff
    for key in ("loss", "contrastive_loss"):
        np.testing.assert_allclose(
            worker0[f"{model}_{key}"], reference[f"{model}_{key}"], rtol=0, atol=1e-5
        )
    assert len(reference[f"{model}_loss"]) == STEPS


def test_workers_refuse_jit_compile_on_cpu(runs):
    (worker0, worker1), _ = runs
    for worker in (worker0, worker1):
        error = str(worker["jit_compile_error"])
        assert error.startswith("InputError: jit_compile=True with several CPU"), error


def test_local_negatives_fail_the_same_check(runs):
    # The same check must catch workers that score only their own half.
    (worker0, _), reference = runs
    loss_diff = np.abs(worker0["local_loss"] - reference["local_loss"]).max()
    diff = max_diff(weights(worker0, "local"), weights(reference, "local"))
    assert loss_diff > 1e-3 and diff > 1e-3, (loss_diff, diff)


# === In process, the default strategy ===


def compiled_fit_model(steps):
    model = build_model()
    model.compile(keras.optimizers.SGD(0.1), loss={"contrastive": ContrastiveLoss()})
    history = model.fit(
        global_dataset().take(steps), epochs=1, shuffle=False, verbose=0
    )
    return model, history.history["loss"][-1]


def test_trainer_matches_fit_on_one_device():
    steps = 3
    fitted, fit_loss = compiled_fit_model(steps)
    model = build_model()
    trainer = DistributedTrainer(
        model,
        tf.distribute.get_strategy(),
        {"contrastive": ContrastiveLoss()},
        keras.optimizers.SGD(0.1),
    )
    history = trainer.fit(global_dataset(), steps=steps, verbose=0)
    assert max_diff(model.get_weights(), fitted.get_weights()) <= 1e-5
    # fit reports the running mean of the per-step losses.
    np.testing.assert_allclose(np.mean(history["loss"]), fit_loss, atol=1e-5)
    np.testing.assert_array_equal(history["loss"], history["contrastive_loss"])


def test_loss_weights_callbacks_and_logging(capsys):
    model = build_model()
    events = []

    class Recorder(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            events.append(("begin", self.model is model))

        def on_train_batch_end(self, batch, logs=None):
            events.append(("batch", batch, logs["loss"]))
            if batch == 1:
                self.model.stop_training = True

        def on_train_end(self, logs=None):
            events.append(("end", logs["loss"]))

    trainer = DistributedTrainer(
        model,
        tf.distribute.get_strategy(),
        {"contrastive": ContrastiveLoss()},
        keras.optimizers.SGD(0.02),
        loss_weights={"contrastive": 2.0},
    )
    history = trainer.fit(global_dataset(), steps=4, callbacks=[Recorder()])
    np.testing.assert_allclose(
        history["loss"], 2 * np.array(history["contrastive_loss"]), rtol=1e-6
    )
    # stop_training set after step 1 ends the loop there.
    assert [e[:2] for e in events] == [
        ("begin", True),
        ("batch", 0),
        ("batch", 1),
        ("end", history["loss"][-1]),
    ]
    assert "step 2/4" not in capsys.readouterr().err  # log_every=100
    trainer.fit(global_dataset(), steps=2, log_every=1)
    assert "step 2/2  loss" in capsys.readouterr().err


@pytest.mark.parametrize("jit_compile", [False, True])
def test_regularizers_and_plain_losses_match_fit(jit_compile):
    # model.losses are added once; a non-vlpk loss on a second output with a
    # weight; an output without a loss is left alone.
    def build():
        keras.utils.set_random_seed(1)
        x = keras.Input((4,), name="x")
        hidden = keras.layers.Dense(
            3, kernel_regularizer=keras.regularizers.L2(0.1), name="hidden"
        )(x)
        outputs = {
            "y": keras.layers.Dense(1, name="y")(hidden),
            "z": keras.layers.Dense(2, name="z")(hidden),
            "unused": keras.layers.Identity(name="unused")(hidden),
        }
        return keras.Model(x, outputs)

    rng = np.random.default_rng(1)
    x = rng.normal(size=(12, 4)).astype("float32")
    y = {
        "y": rng.normal(size=(12, 1)).astype("float32"),
        "z": rng.normal(size=(12, 2)).astype("float32"),
    }
    loss = {"y": "mse", "z": keras.losses.MeanAbsoluteError()}
    fitted = build()
    fitted.compile(
        keras.optimizers.SGD(0.1), loss=loss, loss_weights={"y": 1.0, "z": 0.5}
    )
    fitted.fit(x, y, batch_size=4, shuffle=False, verbose=0)
    model = build()
    trainer = DistributedTrainer(
        model,
        tf.distribute.get_strategy(),
        loss,
        keras.optimizers.SGD(0.1),
        loss_weights={"z": 0.5},
        jit_compile=jit_compile,
    )
    history = trainer.fit(
        tf.data.Dataset.from_tensor_slices((x, y)).batch(4), steps=3, verbose=0
    )
    assert max_diff(model.get_weights(), fitted.get_weights()) <= 1e-6
    assert set(history) == {"loss", "y_loss", "z_loss"}
    assert history["loss"][0] > history["y_loss"][0] + 0.5 * history["z_loss"][0]


# keras-hub's float16 attention mask casts a large negative constant.
@pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")
def test_mixed_float16_loss_scaling_matches_keras():
    # LossScaleOptimizer.scale_loss before the gradient, the unscaling and the
    # finiteness check in apply_gradients: step for step as Keras trains.
    set_precision("mixed_float16")
    try:
        models, optimizers = [], []
        for _ in range(2):
            models.append(build_model())
            optimizers.append(
                keras.optimizers.LossScaleOptimizer(
                    keras.optimizers.SGD(0.02), initial_scale=256.0
                )
            )
        models[0].compile(optimizers[0], loss={"contrastive": ContrastiveLoss()})
        keras_losses = [
            float(models[0].train_on_batch(x, y)) for x, y in global_dataset().take(2)
        ]
        trainer = DistributedTrainer(
            models[1],
            tf.distribute.get_strategy(),
            {"contrastive": ContrastiveLoss()},
            optimizers[1],
        )
        history = trainer.fit(global_dataset(), steps=2, verbose=0)
    finally:
        set_precision("float32")
    assert models[1].output["contrastive"].dtype == "float16"
    assert int(optimizers[1].iterations) == 2
    np.testing.assert_allclose(history["loss"], keras_losses, rtol=0, atol=1e-6)
    assert max_diff(models[0].get_weights(), models[1].get_weights()) <= 1e-6


def test_errors_a_user_can_act_on():
    strategy = tf.distribute.get_strategy()
    model = build_model()
    sgd = keras.optimizers.SGD(0.1)
    with pytest.raises(InputError, match="non-empty dict"):
        DistributedTrainer(model, strategy, ContrastiveLoss(), sgd)
    with pytest.raises(InputError, match="does not have"):
        DistributedTrainer(model, strategy, {"logits": ContrastiveLoss()}, sgd)
    with pytest.raises(InputError, match="have no loss"):
        DistributedTrainer(
            model, strategy, {"contrastive": ContrastiveLoss()}, sgd, {"x": 1.0}
        )
    with pytest.raises(InputError, match="reduction"):
        DistributedTrainer(
            model, strategy, {"contrastive": ContrastiveLoss(reduction=None)}, sgd
        )
    # A model built outside the strategy's scope.
    mirrored = tf.distribute.MirroredStrategy(["/cpu:0"])
    with mirrored.scope():
        optimizer = keras.optimizers.SGD(0.1)
    with pytest.raises(InputError, match="strategy.scope"):
        DistributedTrainer(
            model, mirrored, {"contrastive": ContrastiveLoss()}, optimizer
        )
    trainer = DistributedTrainer(
        model, strategy, {"contrastive": ContrastiveLoss()}, sgd
    )
    with pytest.raises(InputError, match="ran out after 4 of 5 steps"):
        trainer.fit(global_dataset(), steps=5, verbose=0)
