"""Forked worker pools close even when the parent catches SIGTERM (a training loop, Ray's driver)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = """
import signal
from cslib.fork_pool import fork_pool

signal.signal(signal.SIGTERM, lambda *args: None)  # as ner's StopRequest or Ray's driver do


def square(x):
    return x * x


for _ in range(5):  # each exit terminates idle workers with SIGTERM
    with fork_pool(2) as pool:
        assert sorted(pool.imap_unordered(square, range(8))) == [x * x for x in range(8)]
print("closed")
"""


def test_a_pool_closes_under_a_parent_that_catches_sigterm(tmp_path: Path) -> None:
    # With the parent's handler inherited, a plain fork pool's idle workers survive Pool.terminate and
    # wait on their queue's lock for ever; the subprocess' timeout turns such a hang into a failure.
    script = tmp_path / "pool.py"
    script.write_text(SCRIPT, encoding="utf-8")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).resolve().parents[1])
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "closed"
