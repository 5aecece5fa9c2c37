"""A record serializes to the same bytes in every process.

Protobuf writes a map's entries (the features of a `tf.train.Example`) in
an order seeded per process unless asked to be deterministic; shards
written by two converter processes (or two Beam workers) would then differ
byte for byte though equal as protos.
"""

import subprocess
import sys

SCRIPT = """
import hashlib
from vlpk.data.records.example import Example
from vlpk.data.records.tfrecord import serialize_example
example = Example("a.jpg", 7, ("a red circle", "a circle"), label=2)
print(hashlib.sha256(serialize_example(example, b"bytes", 4, 4)).hexdigest())
"""


def test_serialized_bytes_do_not_depend_on_the_process():
    digests = {
        subprocess.run(
            [sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True
        ).stdout.split()[-1]
        for _ in range(3)
    }
    assert len(digests) == 1
