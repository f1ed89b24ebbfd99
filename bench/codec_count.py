"""Decode a fixed set of frames R times, for counting instructions under callgrind.

Why: on a shared machine wall time mostly measures the neighbours, while the instructions a
decode executes are the same whatever else runs. Count a run with R=1 and one with R=3 of the
same tree; (count(3) - count(1)) / (2 * frames) is one decode, without interpreter start-up::

    .venv/bin/python bench/codec_count.py gen                 # the frames, once
    PYTHONHASHSEED=0 valgrind --tool=callgrind --callgrind-out-file=/dev/null \\
        .venv/bin/python bench/codec_count.py c 1             # and: c 3, py 1, py 3

Give ``PYTHONPATH=<other tree>/src`` to count another version of the codec (with its own
built ``_speedups``) on the same frames. Figures: docs/performance.md.
"""

from __future__ import annotations

import argparse
import pickle
import sys
import tempfile
from pathlib import Path

FRAMES = Path(tempfile.gettempdir()) / "dustgrid_codec_frames.pkl"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("impl", choices=("gen", "c", "py"))
    parser.add_argument("rounds", type=int, nargs="?", default=1)
    args = parser.parse_args()
    if args.impl == "gen":
        sys.path.insert(0, str(Path(__file__).parent))
        from codec import make_frames  # bench/codec.py: the realistic stream

        frames = make_frames(100, 20, cold=False)
        FRAMES.write_bytes(pickle.dumps(frames))
        print(f"{len(frames)} frames -> {FRAMES}")
        return
    from dustgrid.ingest.hj212 import decode
    from dustgrid.ingest.hj212.codec import decode_python

    frames = pickle.loads(FRAMES.read_bytes())
    fn = decode if args.impl == "c" else decode_python
    ok = sum(fn(f) is not None for _ in range(args.rounds) for f in frames)
    print(f"{args.impl}: {ok} frames decoded")


if __name__ == "__main__":
    main()
