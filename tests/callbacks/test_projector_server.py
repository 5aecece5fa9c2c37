"""The Projector tab as a real `tensorboard` process serves it.

A tiny dual encoder trains one step on Shapes with the callbacks `vlpk
pretrain` uses (`training_summaries`, then `keras.callbacks.TensorBoard`),
so the log dir has the runs `train` and `samples` besides the projector's.
A `tensorboard` subprocess then serves it, and the test asks the projector
plugin's HTTP routes what the browser would: which runs have embeddings, and
each one's config, metadata, sprite and tensor.
"""

import contextlib
import glob
import io
import json
import math
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import keras
import numpy as np
import pytest
from PIL import Image

from vlpk.callbacks import training_summaries
from vlpk.config import ImageConfig, PretrainConfig
from vlpk.data import ImagePreprocessor, read_shapes, write_shapes
from vlpk.evaluation import embed_split
from vlpk.jobs.recipes import build_model, compile_for_pretraining
from vlpk.text import TextPreprocessor, wordpiece_tokenizer
from vlpk.text.vocabulary import SPECIAL_TOKENS

VAL_IMAGES = 4
CAPTIONS_PER_IMAGE = 5  # Shapes gives every image 5 captions
TIMEOUT = 90  # seconds for TensorBoard to start and load the log dir


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """`(url, val, embeddings)`: TensorBoard serving one training step's logs.

    TensorBoard is started first, so that its start-up (importing
    TensorFlow, some seconds) overlaps the model's; it loads the runs as
    they appear.
    """
    root = tmp_path_factory.mktemp("projector_server")
    log_dir = str(root / "logs")
    with tensorboard(log_dir) as url:
        val, embeddings = train_one_step(root, log_dir)
        wait_for_runs(url(), log_dir)
        yield url(), val, embeddings


def train_one_step(root, log_dir):
    """Trains a tiny dual encoder one step with `vlpk pretrain`'s callbacks.

    Returns:
        `(val, embeddings)`: the validation `Example`s, and the embeddings
        the projector should hold: their images, then all their captions.
    """
    write_shapes(
        root / "shapes", image_size=32, splits={"train": 4, "val": VAL_IMAGES},
        progress=False,
    )  # fmt: skip
    train = read_shapes(root / "shapes", "train")
    val = read_shapes(root / "shapes", "val")
    # Every caption word, whole: as good as a learned WordPiece vocabulary
    # here, and seconds faster.
    words = {w for e in train + val for c in e.captions for w in re.findall(r"\w+", c)}
    tokenizer = wordpiece_tokenizer([*SPECIAL_TOKENS, *sorted(words)])
    config = PretrainConfig(image=ImageConfig(size=32), tensorboard_samples=1).smoke()
    keras.utils.set_random_seed(0)
    model = build_model(config, tokenizer.vocabulary_size())
    compile_for_pretraining(model, config, total_steps=1)
    # One eager step writes the `train` run as well as a traced one, without
    # the ~10 s it takes two cores to trace the train step.
    model.run_eagerly = True
    image_preprocessor = ImagePreprocessor(config.image.size)
    text_preprocessor = TextPreprocessor(tokenizer, config.text.sequence_length)
    x = dict(text_preprocessor([e.captions[0] for e in train]))
    x["images"] = np.stack(
        [np.asarray(Image.open(e.image_path), "float32") for e in train]
    )
    callbacks = training_summaries(
        model,
        val,
        image_preprocessor,
        text_preprocessor,
        log_dir,
        samples=config.tensorboard_samples,
    )
    model.fit(
        x, {"contrastive": np.arange(len(train))}, batch_size=len(train),
        verbose=0, callbacks=[*callbacks, keras.callbacks.TensorBoard(log_dir)],
    )  # fmt: skip
    images, texts, _ = embed_split(model, val, image_preprocessor, text_preprocessor)
    return val, np.concatenate([images, texts])


@contextlib.contextmanager
def tensorboard(log_dir):
    """Starts a `tensorboard` process on `log_dir`.

    Yields a function that waits for the server and returns its base URL:
    port 0 lets the OS pick a free port, which TensorBoard prints. The
    process group (TensorBoard and the data server it starts) is killed on
    exit, whatever happened.
    """
    command = [sys.executable, "-m", "tensorboard.main", "--logdir", log_dir]
    process = subprocess.Popen(
        command + ["--host", "127.0.0.1", "--port", "0", "--reload_interval", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group, to kill it whole
    )
    # A thread drains the output, so that waiting for the URL can time out
    # and a full pipe never blocks TensorBoard.
    lines = queue.Queue()
    threading.Thread(
        target=lambda: [lines.put(line) for line in process.stdout], daemon=True
    ).start()
    output = []

    def url():
        deadline = time.monotonic() + TIMEOUT
        while not re.search(r"http://127\.0\.0\.1:\d+", "".join(output)):
            if time.monotonic() > deadline or process.poll() is not None:
                pytest.fail("TensorBoard did not start:\n" + "".join(output))
            with contextlib.suppress(queue.Empty):
                output.append(lines.get(timeout=0.5))
        return re.search(r"http://127\.0\.0\.1:\d+", "".join(output)).group()

    try:
        yield url
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)


def get(url, route, **query):
    """The body of `GET <url>/data/plugin/projector<route>?<query>`."""
    address = f"{url}/data/plugin/projector{route}?{urllib.parse.urlencode(query)}"
    try:
        with urllib.request.urlopen(address, timeout=30) as response:
            return response.read()
    except urllib.error.HTTPError as error:
        message = f"{address}: HTTP {error.code}: {error.read().decode()}"
    pytest.fail(message)


def wait_for_runs(url, log_dir):
    """Waits until TensorBoard lists every folder of `log_dir` with events."""
    pattern = os.path.join(log_dir, "**", "events.out.tfevents.*")
    events = glob.glob(pattern, recursive=True)
    expected = {os.path.relpath(os.path.dirname(p), log_dir) for p in events}
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        with urllib.request.urlopen(f"{url}/data/runs", timeout=30) as response:
            runs = set(json.loads(response.read()))
        if expected <= runs:
            return
        time.sleep(0.2)
    pytest.fail(f"TensorBoard lists the runs {sorted(runs)}, not {sorted(expected)}")


def test_only_the_projector_run_has_embeddings_labelled_with_a_sprite(served):
    url, val, expected = served
    assert all(len(e.captions) == CAPTIONS_PER_IMAGE for e in val)
    rows = VAL_IMAGES * (1 + CAPTIONS_PER_IMAGE)
    # Every run listed with embeddings must serve metadata and a sprite for
    # each tensor (`get` fails on an HTTP error), under a readable name.
    runs = json.loads(get(url, "/runs"))
    tensors = {}
    for run in runs:
        for embedding in json.loads(get(url, "/info", run=run))["embeddings"]:
            name = embedding["tensorName"]
            tensors[run, name] = (
                embedding,
                get(url, "/metadata", run=run, name=name).decode(),
                get(url, "/sprite_image", run=run, name=name),
                get(url, "/tensor", run=run, name=name),
            )
            assert re.fullmatch(r"[a-z_]+", name), (run, name)
    # `train` and `samples` used to list the root's checkpoint, unlabelled.
    assert runs == ["projector"]
    assert list(tensors) == [("projector", "image_text_embeddings")]
    embedding, metadata, sprite, tensor = tensors["projector", "image_text_embeddings"]
    assert embedding["tensorShape"] == [rows, expected.shape[1]]

    # The images first, then their captions, in one space.
    np.testing.assert_allclose(
        np.frombuffer(tensor, "float32").reshape(rows, -1), expected, atol=1e-5
    )
    lines = metadata.splitlines()
    assert lines[0] == "modality\tcaption\timage_id"
    assert lines[1:] == [
        *(f"image\t{e.captions[0]}\t{e.image_id}" for e in val),
        *(f"text\t{c}\t{e.image_id}" for e in val for c in e.captions),
    ]

    # One 32 px cell per row (images are not enlarged); text cells are blank.
    side = math.ceil(math.sqrt(rows))
    assert embedding["sprite"]["singleImageDim"] == [32, 32]
    sprite = np.asarray(Image.open(io.BytesIO(sprite)), "float32")
    assert sprite.shape == (side * 32, side * 32, 3)
    cells = sprite.reshape(side, 32, side, 32, 3).swapaxes(1, 2).reshape(-1, 32, 32, 3)
    for cell, example in zip(cells, val):
        image = np.asarray(Image.open(example.image_path), "float32")
        assert np.abs(cell - image).mean() < 2.0  # JPEG decoders differ a little
    assert cells[VAL_IMAGES:].max() == 0
