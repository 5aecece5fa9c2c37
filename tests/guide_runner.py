"""Runs a Markdown guide's code blocks in order, as a reader would.

Blocks fenced as exactly ```` ```bash ```` run in `bash -euo pipefail`;
blocks fenced as exactly ```` ```python ```` run in one shared Python
namespace, so a later block sees what an earlier one defined. Any other fence
(`text`, `json`, `console`, `bash skip`, `python skip`, ...) is shown to the
reader but not run: use `skip` for a step that needs what a test machine
lacks (a TF Serving binary, a TPU), and say so in the prose.

Each guide runs in a fresh working directory that holds a link to the
clone's `training/` folder, as a reader working in the clone would have it.

    python -m tests.guide_runner docs/guides/01_pretraining_own_data.md [WORKDIR]
"""

import os
import re
import subprocess
import sys
import tempfile
import time

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
FENCE = re.compile(r"^```([^\n`]*)\n(.*?)^```\s*$", re.MULTILINE | re.DOTALL)
RUN = ("bash", "python")


def code_blocks(markdown):
    """Returns `(language, code, line)` for each fenced block, runnable or not.

    `line` is the 1-based line of the opening fence, for error messages.
    """
    blocks = []
    for match in FENCE.finditer(markdown):
        line = markdown.count("\n", 0, match.start()) + 1
        blocks.append((match.group(1).strip(), match.group(2), line))
    return blocks


def runnable_blocks(markdown):
    """The blocks the runner executes: fenced exactly `bash` or `python`."""
    return [block for block in code_blocks(markdown) if block[0] in RUN]


def guide_environment():
    """The reader's shell: the `vlpk` command of this Python on PATH."""
    env = dict(os.environ)
    bin_dir = os.path.dirname(sys.executable)
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def run_bash(code, workdir, env):
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", code],
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    sys.stdout.write(result.stdout)
    return result.returncode, result.stdout


def run_guide(path, workdir):
    """Runs every runnable block of the guide at `path` inside `workdir`.

    Raises:
        RuntimeError: a block failed; the message names the guide, the line of
            the block's fence and the end of its output.
    """
    with open(path) as f:
        blocks = runnable_blocks(f.read())
    if not blocks:
        raise RuntimeError(f"{path}: no ```bash or ```python blocks to run")
    link = os.path.join(workdir, "training")
    if not os.path.exists(link):
        os.symlink(os.path.join(REPO, "training"), link)
    env = guide_environment()
    os.environ.update(env)  # the Python blocks' subprocesses see it too
    os.chdir(workdir)
    namespace = {"__name__": "__guide__"}
    for number, (language, code, line) in enumerate(blocks, 1):
        start = time.time()
        print(f"--- {os.path.basename(path)}:{line} ({language}, block {number})")
        sys.stdout.flush()
        if language == "bash":
            code_rc, output = run_bash(code, workdir, env)
            if code_rc:
                tail = "\n".join(output.splitlines()[-30:])
                raise RuntimeError(
                    f"{path}:{line}: bash block exited {code_rc}\n{tail}"
                )
        else:
            try:
                exec(compile(code, f"{path}:{line}", "exec"), namespace)
            except Exception as error:
                raise RuntimeError(f"{path}:{line}: python block raised") from error
        print(f"--- {time.time() - start:.1f} s")


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    path = os.path.abspath(argv[0])
    workdir = argv[1] if len(argv) > 1 else tempfile.mkdtemp(prefix="guide-")
    os.makedirs(workdir, exist_ok=True)
    run_guide(path, os.path.abspath(workdir))


if __name__ == "__main__":
    main()
