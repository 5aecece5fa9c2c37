"""Converting a large synthetic CSV: time and memory against the row count.

Writes CSVs of N image-caption rows (N = 25k, 50k, 100k by default) that
point at a pool of small JPEGs, converts each with `vlpk data convert
--format csv` in a fresh process, and records the wall time, the time per
row and the process's peak resident memory. Linear time shows as a flat
time per row; streaming shows as a peak memory that does not grow with N.

Usage:
    python benchmarks/convert_scaling.py [--rows 25000 50000 100000]
        [--repeats 3] [--out benchmarks/results/convert_scaling.json]
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

CHILD = """
import resource, sys, time
from vlpk.cli import main
started = time.perf_counter()
code = main(sys.argv[1:])
print("RESULT", code, time.perf_counter() - started,
      resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def write_pool(folder, count=64, size=64):
    from PIL import Image

    rng = np.random.default_rng(0)
    for i in range(count):
        pixels = rng.integers(0, 255, (size, size, 3), dtype="uint8")
        Image.fromarray(pixels).save(os.path.join(folder, f"{i:03d}.jpg"), quality=90)
    return count


def write_csv(path, rows, pool):
    words = "a red blue green circle square triangle left of above below big small"
    words = words.split()
    rng = np.random.default_rng(rows)
    with open(path, "w", encoding="utf-8") as f:
        f.write("image,caption\n")
        for row in range(rows):
            caption = " ".join(rng.choice(words, 8))
            f.write(f"{row % pool:03d}.jpg,{caption}\n")


def convert(csv_path, images, out):
    args = ["data", "convert", "--format", "csv", "--images", images]
    args += ["--annotations", csv_path, "--out", out, "--shard-size", "5000"]
    run = subprocess.run(
        [sys.executable, "-c", CHILD, *args], capture_output=True, text=True
    )
    line = [x for x in run.stdout.splitlines() if x.startswith("RESULT")]
    if run.returncode or not line:
        raise RuntimeError(run.stderr[-3000:])
    _, code, seconds, max_rss_kb = line[0].split()
    manifest = json.load(open(os.path.join(out, "manifest.json")))
    return float(seconds), int(max_rss_kb) / 1024, manifest["examples"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[25000, 50000, 100000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default="benchmarks/results/convert_scaling.json")
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        images = os.path.join(tmp, "images")
        os.makedirs(images)
        pool = write_pool(images)
        for rows in args.rows:
            csv_path = os.path.join(tmp, f"pairs{rows}.csv")
            write_csv(csv_path, rows, pool)
            runs = []
            for repeat in range(args.repeats):
                out = os.path.join(tmp, f"out{rows}-{repeat}")
                runs.append(convert(csv_path, images, out))
            seconds = statistics.median(r[0] for r in runs)
            rss = statistics.median(r[1] for r in runs)
            assert all(r[2] == rows for r in runs), runs
            results.append(
                {
                    "rows": rows,
                    "csv_mb": round(os.path.getsize(csv_path) / 2**20, 2),
                    "seconds_median": round(seconds, 2),
                    "seconds_runs": [round(r[0], 2) for r in runs],
                    "us_per_row": round(1e6 * seconds / rows, 1),
                    "peak_rss_mb_median": round(rss, 1),
                    "examples_written": runs[0][2],
                }
            )
            print(
                f"{rows:>8} rows  {seconds:7.1f} s  {1e6 * seconds / rows:7.1f} us/row"
                f"  peak RSS {rss:7.1f} MB",
                flush=True,
            )
    first, last = results[0], results[-1]
    summary = {
        "time_ratio": round(last["seconds_median"] / first["seconds_median"], 2),
        "rows_ratio": round(last["rows"] / first["rows"], 2),
        "peak_rss_ratio": round(
            last["peak_rss_mb_median"] / first["peak_rss_mb_median"], 2
        ),
        "cpus": os.cpu_count(),
        "self_max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "date": time.strftime("%Y-%m-%d"),
    }
    growth = last["rows"] // first["rows"]
    print(
        f"{growth}x the rows: {summary['time_ratio']}x the time, "
        f"{summary['peak_rss_ratio']}x the peak memory"
    )
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    with open(args.out, "w") as f:
        json.dump({"results": results, "summary": summary}, f, indent=1)
    print(f"saved {args.out}")


if __name__ == "__main__":
    main()
