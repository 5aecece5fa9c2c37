"""Fits a tiny model with each callback, then reads back what was written."""

import glob
import io
import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf
from google.protobuf import text_format
from PIL import Image
from tensorboard.plugins.projector import ProjectorConfig

from vlpk.callbacks import (
    EmbeddingProjector,
    LearningRateLogger,
    SampleSummaries,
    write_projector,
)
from vlpk.callbacks.learning_rate import current_learning_rate
from vlpk.callbacks.samples import markdown_table

# 32 examples in batches of 8: 4 optimizer steps per epoch.
STEPS_PER_EPOCH = 4


def fit(callbacks, optimizer="sgd", epochs=2):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    model.compile(optimizer, "mse")
    x = np.random.default_rng(0).normal(size=(32, 4)).astype("float32")
    history = model.fit(
        x, np.zeros((32, 3)), batch_size=8, epochs=epochs, verbose=0,
        callbacks=callbacks(model) if callable(callbacks) else callbacks,
    )  # fmt: skip
    return model, history


def read_events(directory):
    """`{tag: [(step, value ndarray, plugin name)]}` from every event file."""
    found = {}
    paths = sorted(glob.glob(os.path.join(directory, "events.out.tfevents.*")))
    assert paths, f"no event file in {directory}"
    for path in paths:
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                array = (
                    tf.make_ndarray(value.tensor)
                    if value.HasField("tensor")
                    else np.asarray(value.simple_value)
                )
                found.setdefault(value.tag, []).append(
                    (event.step, array, value.metadata.plugin_data.plugin_name)
                )
    return found


# Learning rate ----------------------------------------------------------------


def test_learning_rate_follows_the_schedule_per_step_and_per_epoch(tmp_path):
    # Cosine decay changes at every step, so an off-by-one step shows.
    schedule = keras.optimizers.schedules.CosineDecay(0.1, decay_steps=10)
    _, history = fit(
        [
            LearningRateLogger(str(tmp_path), every_n_steps=3),
            keras.callbacks.TensorBoard(str(tmp_path)),
        ],
        optimizer=keras.optimizers.SGD(schedule),
    )

    def expected(step):
        return float(schedule(step))

    # Epoch end: the rate for the next step, after 4 and after 8 steps.
    np.testing.assert_allclose(
        history.history["learning_rate"], [expected(4), expected(8)], rtol=1e-6
    )
    events = read_events(os.path.join(tmp_path, "train"))
    # Batches 1, 4 and 7 of 8 are written, at the step they are about to run.
    per_step = events["learning_rate"]
    assert [step for step, _, _ in per_step] == [0, 3, 6]
    for step, value, _ in per_step:
        assert float(value) == pytest.approx(expected(step), rel=1e-6)
    # Keras' TensorBoard callback, placed after ours, writes the same values.
    per_epoch = events["epoch_learning_rate"]
    assert [step for step, _, _ in per_epoch] == [0, 1]
    np.testing.assert_allclose(
        [float(v) for _, v, _ in per_epoch], [expected(4), expected(8)], rtol=1e-6
    )


def test_learning_rate_without_log_dir_only_fills_logs(tmp_path):
    schedule = keras.optimizers.schedules.PiecewiseConstantDecay(
        [3, 6], [1.0, 0.5, 0.1]
    )
    _, history = fit([LearningRateLogger()], optimizer=keras.optimizers.SGD(schedule))
    assert history.history["learning_rate"] == pytest.approx([0.5, 0.1])
    assert os.listdir(tmp_path) == []


def test_current_learning_rate_sees_through_loss_scaling():
    schedule = keras.optimizers.schedules.PiecewiseConstantDecay([3], [1.0, 0.25])
    optimizer = keras.optimizers.LossScaleOptimizer(keras.optimizers.SGD(schedule))
    optimizer.build([keras.Variable(np.zeros(2, "float32"))])
    assert current_learning_rate(optimizer) == 1.0
    optimizer.inner_optimizer.iterations.assign(5)
    assert current_learning_rate(optimizer) == 0.25
    assert current_learning_rate(keras.optimizers.Adam(3e-4)) == pytest.approx(3e-4)


def test_every_n_steps_must_be_positive():
    with pytest.raises(ValueError, match="every_n_steps"):
        LearningRateLogger("logs", every_n_steps=0)


# Projector --------------------------------------------------------------------


def smooth_images(count, height, width):
    """Distinct images that survive resizing: a colour plus a gradient."""
    rng = np.random.default_rng(1)
    ramp = np.linspace(0, 60, width)[None, :, None]
    base = rng.uniform(0, 190, size=(count, 1, 1, 3))
    return np.broadcast_to(base + ramp, (count, height, width, 3)).astype("float32")


def load_config(log_dir):
    with open(os.path.join(log_dir, "projector_config.pbtxt")) as file:
        return text_format.Parse(file.read(), ProjectorConfig())


def test_embedding_projector_writes_what_the_projector_reads(tmp_path):
    log_dir = str(tmp_path)
    # 10 images of 96 x 128: a 4 x 4 grid of 48 x 64 thumbnails.
    images = smooth_images(10, 96, 128)
    labels = [{"index": i, "shape": f"shape\t{i}"} for i in range(10)]
    returned = []

    def callbacks(model):
        def embed():
            returned.append(model.predict(images[:, 0, :4, 0], verbose=0))
            return returned[-1]

        return [EmbeddingProjector(log_dir, embed, images, labels, name="image")]

    fit(callbacks)
    assert len(returned) == 2

    # Everything is in the run `projector`, which an event file makes a run;
    # nothing is left in the root for the other runs to pick up.
    assert os.listdir(tmp_path) == ["projector"]
    log_dir = os.path.join(log_dir, "projector")
    assert len(glob.glob(os.path.join(log_dir, "events.out.tfevents.*"))) == 1
    config = load_config(log_dir)
    (embedding,) = config.embeddings
    assert embedding.tensor_name == "image"  # the checkpoint key itself
    assert embedding.metadata_path == "metadata.tsv"
    assert embedding.sprite.image_path == "sprite.png"
    assert list(embedding.sprite.single_image_dim) == [64, 48]  # width, height

    # The latest checkpoint holds the last epoch's embeddings; older are gone.
    checkpoint = tf.train.latest_checkpoint(log_dir)
    assert os.path.basename(checkpoint) == "image-1"
    assert len(glob.glob(os.path.join(log_dir, "*.index"))) == 1
    stored = tf.train.load_checkpoint(checkpoint).get_tensor(embedding.tensor_name)
    np.testing.assert_array_equal(stored, returned[-1])
    assert not np.array_equal(returned[0], returned[1])  # training moved it

    with open(os.path.join(log_dir, "metadata.tsv")) as file:
        rows = file.read().splitlines()
    assert rows[0] == "index\tshape"
    assert rows[1:] == [f"{i}\tshape {i}" for i in range(10)]

    sprite = np.asarray(Image.open(os.path.join(log_dir, "sprite.png")))
    assert sprite.shape == (4 * 48, 4 * 64, 3)
    for index, (row, column) in enumerate([(0, 0), (0, 1), (2, 1)]):
        thumbnail = sprite[row * 48 : (row + 1) * 48, column * 64 : (column + 1) * 64]
        image = images[row * 4 + column]
        reference = tf.image.resize(image, (48, 64), antialias=True).numpy()
        assert np.abs(thumbnail - reference).mean() < 2.0, (row, column)
    assert sprite[3 * 48 :, 2 * 64 :].max() == 0  # cells 14 and 15 are empty

    # No temporary files are left behind.
    assert not glob.glob(os.path.join(log_dir, "*.tmp-*"))


def test_tensorboard_projector_plugin_serves_the_files(tmp_path):
    werkzeug_test = pytest.importorskip("werkzeug.test")
    from tensorboard.backend.event_processing import (
        data_provider,
        plugin_event_multiplexer,
    )
    from tensorboard.plugins import base_plugin
    from tensorboard.plugins.projector.projector_plugin import ProjectorPlugin

    log_dir = str(tmp_path)
    embeddings = np.random.default_rng(2).normal(size=(5, 3)).astype("float32")
    images = np.random.default_rng(3).integers(0, 256, (5, 8, 8, 3), "uint8")
    write_projector(log_dir, embeddings, ["a", "b", "c", "d", "e"], images, step=7)

    multiplexer = plugin_event_multiplexer.EventMultiplexer()
    context = base_plugin.TBContext(
        logdir=log_dir,
        data_provider=data_provider.MultiplexerDataProvider(multiplexer, log_dir),
        multiplexer=multiplexer,
    )
    apps = ProjectorPlugin(context).get_plugin_apps()

    def get(route, **args):
        response = werkzeug_test.Client(apps[route]).get(route, query_string=args)
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.get_data()

    assert json.loads(get("/runs")) == ["."]
    name = "embeddings"
    tensor = np.frombuffer(get("/tensor", run=".", name=name), "float32")
    np.testing.assert_array_equal(tensor.reshape(5, 3), embeddings)
    assert get("/metadata", run=".", name=name).decode() == "a\nb\nc\nd\ne\n"
    sprite = np.asarray(
        Image.open(io.BytesIO(get("/sprite_image", run=".", name=name)))
    )
    # Small images are tiled as they are, not enlarged: a 3 x 3 grid of 8 px.
    assert sprite.shape == (24, 24, 3)
    np.testing.assert_array_equal(sprite[:8, 8:16], images[1])


def test_write_projector_rejects_mismatched_inputs(tmp_path):
    embeddings = np.zeros((3, 2))
    with pytest.raises(ValueError, match="2 labels for 3 embeddings"):
        write_projector(str(tmp_path), embeddings, labels=["a", "b"])
    with pytest.raises(ValueError, match="4 images for 3 embeddings"):
        write_projector(str(tmp_path), embeddings, images=np.zeros((4, 4, 4, 3)))
    with pytest.raises(ValueError, match=r"\[N, D\]"):
        write_projector(str(tmp_path), np.zeros(3))
    with pytest.raises(ValueError, match="identifier"):
        write_projector(str(tmp_path), embeddings, name="image/text")
    assert os.listdir(tmp_path) == []  # nothing half-written


def test_rows_after_the_images_get_blank_sprite_cells(tmp_path):
    # Two images, then three text embeddings: a 3 x 3 grid of 8 px cells.
    images = np.random.default_rng(5).integers(1, 256, (2, 8, 8, 3), "uint8")
    config = write_projector(str(tmp_path), np.eye(5), images=images, step=3)
    assert list(config.embeddings[0].sprite.single_image_dim) == [8, 8]
    sprite = np.asarray(Image.open(os.path.join(tmp_path, "sprite.png")))
    assert sprite.shape == (24, 24, 3)
    np.testing.assert_array_equal(sprite[:8, :8], images[0])
    np.testing.assert_array_equal(sprite[:8, 8:16], images[1])
    assert sprite[:8, 16:].max() == 0 and sprite[8:].max() == 0


def test_a_new_name_replaces_the_old_checkpoint(tmp_path):
    write_projector(str(tmp_path), np.eye(3), name="first", step=0)
    write_projector(str(tmp_path), np.eye(3, 2), name="second", step=1)
    checkpoint = tf.train.latest_checkpoint(str(tmp_path))
    assert os.path.basename(checkpoint) == "second-1"
    assert tf.train.load_checkpoint(checkpoint).get_variable_to_shape_map() == {
        "second": [3, 2]
    }
    assert not glob.glob(os.path.join(tmp_path, "first-*"))


def test_single_column_metadata_has_no_header(tmp_path):
    write_projector(str(tmp_path), np.eye(3), labels={"caption": ["x", "y", "z"]})
    with open(os.path.join(tmp_path, "metadata.tsv")) as file:
        assert file.read() == "x\ny\nz\n"


# Samples ----------------------------------------------------------------------


def test_sample_summaries_write_images_and_a_table_per_epoch(tmp_path):
    images = np.random.default_rng(4).uniform(0, 255, (5, 6, 7, 3)).astype("float32")
    references = ["a red | circle", "a blue square", "a green\ntriangle"]
    seen = []

    def describe(batch):
        seen.append(batch)
        return [f"epoch {len(seen) - 1} image {i}" for i in range(len(batch))]

    fit(
        [
            SampleSummaries(
                str(tmp_path), images, describe, max_outputs=3, references=references
            )
        ]
    )
    # The first `max_outputs` images are described, as they were given.
    assert len(seen) == 2
    np.testing.assert_array_equal(seen[0], images[:3])

    events = read_events(os.path.join(tmp_path, "samples"))
    assert [step for step, _, _ in events["images"]] == [0, 1]
    for _, value, plugin in events["images"]:
        assert plugin == "images"
        # An image summary holds width, height, then one PNG per image.
        assert value.shape == (2 + 3,)
        first = tf.io.decode_png(value[2]).numpy()
        np.testing.assert_array_equal(first, np.round(images[0]).astype("uint8"))

    assert [step for step, _, _ in events["outputs"]] == [0, 1]
    for epoch, (step, value, plugin) in enumerate(events["outputs"]):
        assert plugin == "text"
        table = value.item().decode()
        lines = table.splitlines()
        assert lines[0] == "| index | reference | output |"
        assert len(lines) == 2 + 3
        for i in range(3):
            assert f"epoch {epoch} image {i}" in lines[2 + i]
        assert "a red \\| circle" in lines[2]
        assert "a green triangle" in lines[4]


def test_markdown_table_without_references():
    assert markdown_table(["x"]) == "| index | output |\n|---|---|\n| 0 | x |"


def test_sample_summaries_rejects_wrong_output_count(tmp_path):
    callback = SampleSummaries(str(tmp_path), np.zeros((2, 4, 4, 3)), lambda b: ["x"])
    with pytest.raises(ValueError, match="1 strings for 2 images"):
        callback.on_epoch_end(0)
