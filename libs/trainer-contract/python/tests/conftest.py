"""Runs small bridges on the runtime as real child processes, the way the TypeScript trainer does: the runtime on
PYTHONPATH, `--spec` on the command line, events read from the child's fd 3."""

import json
import os
import queue
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

RUNTIME_DIR = Path(__file__).resolve().parents[1]


class Bridge:
    def __init__(self, folder, body, spec, env, args, events_fd, pump, stdin=subprocess.DEVNULL):
        self.folder = folder
        script = folder / "bridge.py"
        script.write_text("from trainer_bridge import *\n" + textwrap.dedent(body), encoding="utf-8")
        self.spec_path = folder / "spec.json"
        if spec is not None:
            self.spec_path.write_text(json.dumps(spec) if not isinstance(spec, str) else spec, encoding="utf-8")
        child_env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(RUNTIME_DIR), "PYTHONDONTWRITEBYTECODE": "1"}
        child_env.update(env or {})
        argv = [sys.executable, "-u", str(script), *(["--spec", str(self.spec_path)] if args is None else args)]
        self._events = queue.Queue()
        self.events = []
        read_end, write_end = (None, None)
        preexec = None
        if events_fd:
            read_end, write_end = os.pipe()
            preexec = lambda: os.dup2(write_end, 3)  # noqa: E731 - the child's fd 3, as Node's stdio[3]
        self.proc = subprocess.Popen(
            argv,
            cwd=folder,
            env=child_env,
            stdin=stdin,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            close_fds=False,
            preexec_fn=preexec,
        )
        self._read_end = read_end
        if events_fd:
            os.close(write_end)
        if events_fd and pump:
            self.reader = os.fdopen(read_end, "r", encoding="utf-8")
            threading.Thread(target=self._pump, daemon=True).start()
        else:
            self._events.put(None)

    def close_stdin(self, text=""):
        """Writes `text` to the child's stdin (a pipe), then closes it, as the trainer does."""
        self.proc.stdin.write(text)
        self.proc.stdin.close()
        self.proc.stdin = None  # communicate() must not flush it again

    def close_events_after_first(self):
        """Reads the first event by hand, then closes the read end: the reader goes away mid-run."""
        first = b""
        while not first.endswith(b"\n"):
            first += os.read(self._read_end, 1)
        os.close(self._read_end)
        return json.loads(first)

    def _pump(self):
        for line in self.reader:
            self._events.put(json.loads(line))
        self._events.put(None)

    def next_event(self, timeout=30):
        event = self._events.get(timeout=timeout)
        if event is not None:
            self.events.append(event)
        return event

    def wait_for(self, name, timeout=30):
        while True:
            event = self.next_event(timeout)
            if event is None:
                raise AssertionError(f"the bridge ended without a {name} event; stderr:\n{self.proc.stderr.read()}")
            if event["event"] == name:
                return event

    def finish(self, timeout=60):
        out, err = self.proc.communicate(timeout=timeout)
        while self.next_event(timeout) is not None:
            pass
        self.stdout, self.stderr = out, err
        return self.proc.returncode

    def of(self, name):
        return [e for e in self.events if e["event"] == name]


@pytest.fixture
def bridge(tmp_path):
    started = []

    def start(body, spec=None, env=None, args=None, events_fd=True, pump=True, stdin=subprocess.DEVNULL):
        folder = tmp_path / f"b{len(started)}"
        folder.mkdir()
        b = Bridge(folder, body, {"snapshot_dir": str(folder / "snapshots")} if spec is None else spec, env, args, events_fd, pump, stdin)
        started.append(b)
        return b

    yield start
    for b in started:
        if b.proc.poll() is None:
            b.proc.kill()
            b.proc.wait()
