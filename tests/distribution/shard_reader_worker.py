"""Reads converted shards as one worker of a `MultiWorkerMirroredStrategy`.

`python shard_reader_worker.py DATA_DIR OUT.json`, with `TF_CONFIG` set: the
worker builds `caption_pair_dataset` over `DATA_DIR/shards` (the vocabulary is
`DATA_DIR/vocab.txt`) in two ways and iterates one epoch of each:

- `function`: `distribute_datasets_from_function`, the dataset built with the
  worker's `input_context` (each worker reads its own files);
- `dataset`: `experimental_distribute_dataset` on the global dataset (TF's
  auto-shard, which falls back to DATA sharding for this pipeline).

It writes the image id of every pair it was given, per way, to `OUT.json`.
"""

import json
import os
import sys

if __name__ == "__main__":
    os.environ["CUDA_VISIBLE_DEVICES"] = ""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import tensorflow as tf  # noqa: E402

from vlpk.data import ImagePreprocessor, caption_pair_dataset  # noqa: E402
from vlpk.text import (  # noqa: E402
    TextPreprocessor,
    load_vocabulary,
    wordpiece_tokenizer,
)

IMAGE_SIZE = 16
GLOBAL_BATCH = 4


def main(data_dir, out):
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    vocabulary = load_vocabulary(os.path.join(data_dir, "vocab.txt"))
    text = TextPreprocessor(wordpiece_tokenizer(vocabulary), 8)

    def dataset(batch_size, input_context=None):
        return caption_pair_dataset(
            os.path.join(data_dir, "shards"),
            ImagePreprocessor(IMAGE_SIZE),
            text,
            batch_size=batch_size,
            shuffle_buffer=8,
            drop_remainder=False,
            input_context=input_context,
        )

    def dataset_fn(context):
        return dataset(context.get_per_replica_batch_size(GLOBAL_BATCH), context)

    feeds = {
        "function": strategy.distribute_datasets_from_function(dataset_fn),
        "dataset": strategy.experimental_distribute_dataset(dataset(GLOBAL_BATCH)),
    }
    result = {"task": strategy.cluster_resolver.task_id}
    for name, feed in feeds.items():
        ids = []
        for _, y in feed:
            for local in strategy.experimental_local_results(y["contrastive"]):
                ids += [int(i) for i in local.numpy()]
        result[name] = ids
    with open(out, "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main(*sys.argv[1:])
