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
    out = subprocess.run(
        [sys.executable, os.path.join(HERE, script), *map(str, args)],
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
