"""Sharding by file: two workers read disjoint shards that cover the data.

Two localhost `MultiWorkerMirroredStrategy` workers (`shard_reader_worker.py`)
read the same 4 shards through `caption_pair_dataset`. Fed through
`distribute_datasets_from_function` with the input context, each must receive
the pairs of whole shards, none twice, and together every pair exactly once.
Through `experimental_distribute_dataset` (TF's DATA fallback) the pairs must
still arrive exactly once across the two.
"""

import collections
import json
import os
import subprocess
import sys
import time

import numpy as np
import tensorflow as tf

from tests.distribution.workers import free_ports
from vlpk.data.records.example import Example
from vlpk.data.records.tfrecord import serialize_example
from vlpk.text import learn_vocabulary, save_vocabulary

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SHARDS = 4
TIMEOUT_S = 180


def write_dataset(root):
    """4 shards of 5 images, 1-3 captions each; returns {shard: Counter(ids)}."""
    rng = np.random.default_rng(0)
    (root / "shards").mkdir()
    per_shard, captions = {}, []
    for shard in range(SHARDS):
        counts = collections.Counter()
        path = root / "shards" / f"train-{shard:05d}-of-{SHARDS:05d}.tfrecord"
        with tf.io.TFRecordWriter(str(path)) as writer:
            for k in range(5):
                image_id = 10 * shard + k
                texts = tuple(f"red circle {image_id} {c}" for c in range(k % 3 + 1))
                pixels = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
                jpeg = tf.io.encode_jpeg(pixels).numpy()
                example = Example(f"{image_id}.jpg", image_id, texts)
                writer.write(serialize_example(example, jpeg, 16, 16))
                counts[image_id] += len(texts)
                captions += texts
        per_shard[shard] = counts
    save_vocabulary(learn_vocabulary(captions, 60), str(root / "vocab.txt"))
    return per_shard


def test_two_workers_read_disjoint_whole_shards_covering_every_pair(tmp_path):
    per_shard = write_dataset(tmp_path)
    ports = free_ports(2)
    cluster = {"worker": [f"localhost:{port}" for port in ports]}
    processes, logs = [], []
    for index in range(2):
        env = dict(os.environ, PYTHONPATH=ROOT, CUDA_VISIBLE_DEVICES="")
        config = {"cluster": cluster, "task": {"type": "worker", "index": index}}
        env["TF_CONFIG"] = json.dumps(config)
        logs.append(tmp_path / f"worker{index}.log")
        with open(logs[-1], "w") as log:
            processes.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        os.path.join(HERE, "shard_reader_worker.py"),
                        str(tmp_path),
                        str(tmp_path / f"worker{index}.json"),
                    ],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=env,
                )
            )
    deadline = time.monotonic() + TIMEOUT_S
    while any(p.poll() is None for p in processes) and time.monotonic() < deadline:
        if any(p.returncode for p in processes):
            break
        time.sleep(0.2)
    for p in processes:
        if p.poll() is None:
            p.kill()
        p.wait()
    report = "\n".join(f"--- {log}\n{log.read_text()[-2000:]}" for log in logs)
    assert all(p.returncode == 0 for p in processes), report

    results = [json.loads((tmp_path / f"worker{i}.json").read_text()) for i in range(2)]
    everything = sum(per_shard.values(), collections.Counter())
    for feed in ("function", "dataset"):
        seen = [collections.Counter(r[feed]) for r in results]
        assert seen[0] + seen[1] == everything, feed  # every pair once
    seen = [collections.Counter(r["function"]) for r in results]
    assert not set(seen[0]) & set(seen[1])  # no image on both workers
    for counts in seen:
        # Each worker holds whole shards (2 of the 4), never parts of one.
        owned = [s for s, c in per_shard.items() if set(c) <= set(counts)]
        assert len(owned) == 2
        assert counts == sum((per_shard[s] for s in owned), collections.Counter())
