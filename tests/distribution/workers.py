"""Running the distributed test workers, each in a fresh Python process.

Logical devices and strategies must be set up before TensorFlow starts, so
every distributed check runs as a script that prints one JSON line.
"""

import json
import os
import socket
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def run_json_worker(script, *args, timeout=300):
    """Runs `tests/distribution/<script>` and returns its last stdout line, parsed."""
    root = os.path.dirname(os.path.dirname(HERE))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([root] + sys.path))
    out = subprocess.run(
        [sys.executable, os.path.join(HERE, script), *map(str, args)],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def free_ports(count):
    """`count` free localhost ports, for a cluster of worker processes."""
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def start_cli_workers(args_for, count=2, output=subprocess.PIPE):
    """Starts `vlpk <args_for(index)>` as `count` localhost workers of one
    cluster (each with its `TF_CONFIG`); returns the `Popen`s."""
    cluster = {"worker": [f"localhost:{p}" for p in free_ports(count)]}
    procs = []
    for index in range(count):
        task = {"cluster": cluster, "task": {"type": "worker", "index": index}}
        env = dict(os.environ, CUDA_VISIBLE_DEVICES="", TF_CONFIG=json.dumps(task))
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "vlpk.cli", *args_for(index)],
                env=env,
                stdout=output,
                stderr=output,
                text=True,
            )
        )
    return procs


def run_cli_workers(args_for, count=2, timeout=600):
    """Runs `vlpk <args_for(index)>` as `count` localhost workers at once.

    Each process gets its `TF_CONFIG` for one cluster; returns each worker's
    stderr once all of them exit 0.
    """
    procs = start_cli_workers(args_for, count)
    outputs = [p.communicate(timeout=timeout) for p in procs]
    for proc, (_, err) in zip(procs, outputs):
        assert proc.returncode == 0, err[-3000:]
    return [err for _, err in outputs]
