"""Starts the built `mock-graph` and `mock-scim` binaries on free loopback ports, as a user would.

Each mock prints what a client needs (its URL, generated secrets) on stdout at start; this module reads
those lines, so the tests use exactly what the binaries announce.

Both pipes are drained for the life of the process: stdout by a reader thread (its later lines are kept
in `Mock.output`), stderr into a temporary file (read back in `Mock.stderr()`). A mock that fills an
undrained pipe would block in its next write.
"""

from __future__ import annotations

import collections
import os
import queue
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parents[3]
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
PROFILE = os.environ.get("MOCKS_PROFILE", "debug")

# How many stdout lines after start a mock keeps for a failure message.
OUTPUT_LINES = 1000


def binary(name: str) -> Path:
    path = TARGET / PROFILE / name
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: build it first (cargo build -p {name})")
    return path


@dataclass
class Mock:
    """A running mock process and the `key: value` lines it announced."""

    process: subprocess.Popen
    lines: dict[str, str] = field(default_factory=dict)
    # stdout lines printed after the announced ones, the latest `OUTPUT_LINES`.
    output: collections.deque[str] = field(default_factory=lambda: collections.deque(maxlen=OUTPUT_LINES))
    stderr_file: IO[bytes] | None = None

    def stderr(self) -> str:
        """What the mock wrote on stderr so far."""
        if self.stderr_file is None:
            return ""
        self.stderr_file.flush()
        self.stderr_file.seek(0)
        return self.stderr_file.read().decode("utf-8", "replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.stderr_file is not None:
            self.stderr_file.close()
            self.stderr_file = None


def _read_lines(stream: IO[str], lines: queue.Queue[str | None]) -> None:
    for line in stream:
        lines.put(line)
    lines.put(None)


def start(name: str, args: list[str], wait_for: list[str], timeout: float = 30.0) -> Mock:
    """Runs `name args…` and waits until it has printed a line for every key in `wait_for`."""
    stderr_file = tempfile.TemporaryFile()
    process = subprocess.Popen(
        [str(binary(name)), *args],
        stdout=subprocess.PIPE,
        stderr=stderr_file,
        text=True,
    )
    mock = Mock(process, stderr_file=stderr_file)
    assert process.stdout is not None
    announced: queue.Queue[str | None] = queue.Queue()
    threading.Thread(target=_read_lines, args=(process.stdout, announced), daemon=True).start()
    deadline = time.monotonic() + timeout
    while not all(key in mock.lines for key in wait_for):
        try:
            line = announced.get(timeout=max(deadline - time.monotonic(), 0.001))
        except queue.Empty:
            mock.stop()
            raise TimeoutError(f"{name} announced only {sorted(mock.lines)} of {wait_for}") from None
        if line is None:
            # stdout closed: the mock is exiting.
            try:
                outcome = f"exited with {process.wait(timeout=10)}"
            except subprocess.TimeoutExpired:
                outcome = f"closed its stdout before announcing {wait_for}"
            stderr = mock.stderr()
            mock.stop()
            raise RuntimeError(f"{name} {outcome}: {stderr}")
        text = line.strip()
        if " listening on " in text:
            mock.lines["url"] = text.split(" listening on ", 1)[1]
        elif ": " in text:
            key, value = text.split(": ", 1)
            mock.lines[key] = value
    threading.Thread(target=_keep_output, args=(announced, mock.output), daemon=True).start()
    return mock


def _keep_output(lines: queue.Queue[str | None], output: collections.deque[str]) -> None:
    while (line := lines.get()) is not None:
        output.append(line.rstrip("\n"))
