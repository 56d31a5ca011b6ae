"""How a job ends: exit codes and the `error` event each failure becomes."""

import signal

import pytest


def error_of(b):
    errors = b.of("error")
    assert len(errors) == 1, (b.events, b.stderr)
    return errors[0]


@pytest.mark.parametrize(
    "raise_line, want_type, want_message",
    [
        ('raise RuntimeError("boom at epoch 2")', "RuntimeError", "boom at epoch 2"),
        # torch.cuda.OutOfMemoryError, by name, and the RuntimeError older torch raises instead.
        ('class OutOfMemoryError(RuntimeError): pass\n    raise OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")', "OutOfMemoryError", "CUDA out of memory. Tried to allocate 2.00 GiB"),
        ('raise RuntimeError("CUDA out of memory. Tried to allocate 20.00 MiB")', "OutOfMemoryError", "CUDA out of memory. Tried to allocate 20.00 MiB"),
        ('raise MemoryError("host RAM")', "MemoryError", "host RAM"),
        ('raise ModelUnavailableError("cannot load model /m/w.pt: not a checkpoint")', "ModelUnavailableError", "cannot load model /m/w.pt: not a checkpoint"),
        ('class CorruptWeights(ModelUnavailableError): pass\n    raise CorruptWeights("bad header")', "ModelUnavailableError", "bad header"),
        ('raise ModelSourceUnavailableError("hub unreachable after 3 tries")', "ModelSourceUnavailableError", "hub unreachable after 3 tries"),
        ("raise SystemExit(4)", "SystemExit", "4"),
    ],
)
def test_an_exception_becomes_one_error_event_with_its_traceback_and_exit_1(bridge, raise_line, want_type, want_message):
    b = bridge(f"def train(ctx):\n    ctx.train_start(epochs=1)\n    {raise_line}\nrun(train)\n")
    assert b.finish() == 1
    err = error_of(b)
    assert (err["type"], err["message"]) == (want_type, want_message)
    assert err["traceback"].startswith("Traceback (most recent call last)")
    assert "bridge.py" in err["traceback"]
    assert err["traceback"] in b.stderr  # the framework's log keeps it too


def test_a_long_traceback_is_cut_to_its_end(bridge):
    b = bridge('def train(ctx):\n    raise ValueError("x" * 20000 + " the end")\nrun(train)\n')
    assert b.finish() == 1
    assert len(error_of(b)["traceback"]) == 8000
    assert error_of(b)["traceback"].rstrip().endswith("the end")


@pytest.mark.parametrize(
    "spec, args, want_type, want_text",
    [
        (None, ["--spec", "does-not-exist.json"], "FileNotFoundError", "does-not-exist.json"),
        ("{not json", None, "JSONDecodeError", "Expecting property name"),
        ("[1, 2]", None, "ValueError", "expected a JSON object, got list"),
        ({}, [], "ValueError", "bridge arguments: the following arguments are required: --spec"),
    ],
)
def test_a_bad_spec_or_command_line_is_an_error_event_not_a_bare_crash(bridge, spec, args, want_type, want_text):
    b = bridge("def train(ctx):\n    raise AssertionError('never called')\nrun(train)\n", spec=spec if spec is not None else {}, args=args)
    assert b.finish() == 1
    err = error_of(b)
    assert err["type"] == want_type
    assert want_text in err["message"]


def test_a_clean_return_exits_0_without_an_error_event(bridge):
    b = bridge('def train(ctx):\n    ctx.train_end(1, {}, ".")\nrun(train)\n')
    assert b.finish() == 0
    assert b.of("error") == []


def test_the_spec_is_handed_to_train(bridge):
    b = bridge('def train(ctx):\n    ctx.train_end(ctx.spec["epochs"], {}, ctx.spec["run_dir"])\nrun(train)\n', spec={"epochs": 7, "run_dir": "/r"})
    assert b.finish() == 0
    assert b.of("train_end")[0]["best_epoch"] == 7


LOOP = """
import time
def train(ctx):
    ctx.train_start(epochs=1000)
    for step in range(100000):
        {check}
        time.sleep(0.01)
    ctx.train_end(1, {{}}, ".")
run(train)
"""


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_at_the_next_check_and_exits_143_without_an_error(bridge, sig):
    b = bridge(LOOP.format(check="ctx.raise_if_stopped()"))
    b.wait_for("train_start")
    b.proc.send_signal(sig)
    assert b.finish() == 143
    assert b.of("error") == []
    assert b.stderr.count(f"received signal {int(sig)}; stopping at the next step") == 1
    assert "interrupted; the last complete checkpoint is kept" in b.stderr


def test_a_loop_that_polls_should_stop_and_returns_early_exits_143(bridge):
    b = bridge(LOOP.format(check="if ctx.should_stop(): return"))
    b.wait_for("train_start")
    b.proc.send_signal(signal.SIGTERM)
    assert b.finish() == 143
    assert b.of("train_end") == []


def test_a_signal_after_train_end_still_exits_0(bridge):
    b = bridge(
        """
import os, signal
def train(ctx):
    ctx.train_end(1, {}, ".")
    os.kill(os.getpid(), signal.SIGTERM)
run(train)
"""
    )
    assert b.finish() == 0


def test_a_failure_caused_by_the_stop_exits_143(bridge):
    b = bridge(
        """
import os, signal
def train(ctx):
    os.kill(os.getpid(), signal.SIGTERM)
    raise BrokenPipeError("DataLoader worker (pid 123) is killed by signal: Terminated")
run(train)
"""
    )
    assert b.finish() == 143
    assert b.of("error") == []
    assert "interrupted (BrokenPipeError" in b.stderr


def test_safe_keeps_training_when_a_hook_fails_and_says_so_once(bridge):
    b = bridge(
        """
calls = []
def on_epoch(epoch):
    calls.append(epoch)
    raise KeyError("bug in our hook")
def train(ctx):
    hook = safe(on_epoch, "on_fit_epoch_end")
    for epoch in (1, 2, 3):
        assert hook(epoch) is None
    ctx.train_end(len(calls), {}, ".")
run(train)
"""
    )
    assert b.finish() == 0, b.stderr
    assert b.of("train_end")[0]["best_epoch"] == 3
    assert b.stderr.count("hook on_fit_epoch_end failed (training continues): KeyError: 'bug in our hook'") == 1


def test_safe_lets_a_stop_through(bridge):
    b = bridge(
        """
import os, signal
def train(ctx):
    os.kill(os.getpid(), signal.SIGTERM)
    ctx.safe(ctx.raise_if_stopped, "on_train_batch_end")(object())
    raise AssertionError("not reached")
run(train)
"""
    )
    assert b.finish() == 143
    assert "hook on_train_batch_end failed" not in b.stderr


def test_a_rank_that_returns_because_another_rank_was_stopped_exits_143_too(bridge):
    # `any` stands in for the all_reduce (torch's, tested in the hf DDP e2e test): another rank got the signal.
    b = bridge(
        "class OtherRankStopped(World):\n"
        "    def any(self, flag):\n"
        "        return True\n"
        "def train(ctx):\n"
        "    ctx.train_start(epochs=2)\n"
        "    assert ctx.should_stop() is False\n"
        "    if ctx.any_rank_stopped(OtherRankStopped({})):\n"
        "        return\n"
        "    ctx.train_end(2, {}, '')\n"
        "run(train)\n"
    )
    assert b.finish() == 143
    assert b.of("train_end") == [] and b.of("error") == []


def test_no_rank_stopped_trains_on(bridge):
    b = bridge("def train(ctx):\n    assert ctx.any_rank_stopped(World({})) is False\n    ctx.train_end(1, {}, '')\nrun(train)\n")
    assert b.finish() == 0
    assert len(b.of("train_end")) == 1


def test_a_finished_job_skips_the_interpreter_teardown(bridge):
    b = bridge(
        "import atexit, pathlib\n"
        "atexit.register(lambda: pathlib.Path('teardown-ran').write_text('yes'))\n"
        "def train(ctx):\n"
        "    ctx.train_end(1, {}, '')\n"
        "run(train)\n"
    )
    assert b.finish() == 0
    assert b.of("train_end") and not (b.folder / "teardown-ran").exists()


def test_a_thread_or_child_process_still_at_work_gets_the_normal_exit(bridge):
    b = bridge(
        "import multiprocessing, pathlib, threading, time\n"
        "def late():\n"
        "    time.sleep(0.3)\n"
        "    pathlib.Path('thread-done').write_text('yes')\n"
        "def train(ctx):\n"
        "    threading.Thread(target=late).start()\n"
        "    ctx.train_end(1, {}, '')\n"
        "run(train)\n"
    )
    assert b.proc.wait(timeout=30) == 0
    assert (b.folder / "thread-done").read_text() == "yes"
    assert b.finish() == 0
    b = bridge(
        "import multiprocessing, pathlib, time\n"
        "def child():\n"
        "    time.sleep(0.3)\n"
        "    pathlib.Path('child-done').write_text('yes')\n"
        "def train(ctx):\n"
        "    multiprocessing.get_context('fork').Process(target=child).start()\n"
        "    ctx.train_end(1, {}, '')\n"
        "run(train)\n"
    )
    # Done by the time the bridge itself has exited: a normal exit joins its child first.
    assert b.proc.wait(timeout=30) == 0
    assert (b.folder / "child-done").read_text() == "yes"
    assert b.finish() == 0
