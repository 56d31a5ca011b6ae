"""Checkpoints are published whole and announced after; heartbeats are throttled."""

import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from trainer_bridge import numbers, to_float  # noqa: E402


def test_a_checkpoint_is_announced_once_a_complete_private_copy_is_in_the_snapshot_dir(bridge):
    b = bridge(
        """
import os
def train(ctx):
    src = "run/weights/last.pt"
    os.makedirs("run/weights")
    open(src, "wb").write(b"epoch-1" * 100000)
    first = ctx.checkpoint("last", src, 1)
    # The framework rewrites its file in place (same inode, truncated first), as Ultralytics does.
    with open(src, "r+b") as f:
        f.truncate(0)
        f.write(b"epoch-2")
    reader = open(first, "rb")  # an upload that started on the epoch-1 copy
    ctx.checkpoint("last", src, 2)
    open("seen-by-reader", "wb").write(reader.read())
    ctx.train_end(2, {}, "run")
run(train)
"""
    )
    assert b.finish() == 0, b.stderr
    snapshots = b.folder / "snapshots"
    assert [(e["kind"], e["epoch"], e["path"]) for e in b.of("checkpoint")] == [("last", 1, str(snapshots / "last.pt")), ("last", 2, str(snapshots / "last.pt"))]
    assert (snapshots / "last.pt").read_bytes() == b"epoch-2"
    # The copy an upload had open stayed whole: the new one replaced the path, not the bytes.
    assert (b.folder / "seen-by-reader").read_bytes() == b"epoch-1" * 100000
    assert sorted(os.listdir(snapshots)) == ["last.pt"]  # no temp file left behind


def test_a_checkpoint_the_framework_replaces_by_rename_is_published_as_a_hard_link(bridge):
    b = bridge(
        """
import os
def train(ctx):
    os.makedirs("run/weights")
    for epoch in (1, 2):
        open("run/weights/.last.pt.tmp", "wb").write(b"epoch-%d" % epoch * 100000)
        os.replace("run/weights/.last.pt.tmp", "run/weights/last.pt")
        published = ctx.checkpoint("last", "run/weights/last.pt", epoch, replaced_by_rename=True)
        if epoch == 1:
            reader = open(published, "rb")  # an upload that started on the epoch-1 snapshot
    open("seen-by-reader", "wb").write(reader.read())
    ctx.train_end(2, {}, "run")
run(train)
"""
    )
    assert b.finish() == 0, b.stderr
    snapshot = b.folder / "snapshots" / "last.pt"
    # One inode shared with the framework's file: no second write of the bytes.
    assert os.stat(snapshot).st_ino == os.stat(b.folder / "run" / "weights" / "last.pt").st_ino
    assert snapshot.read_bytes() == b"epoch-2" * 100000
    assert (b.folder / "seen-by-reader").read_bytes() == b"epoch-1" * 100000
    assert sorted(os.listdir(snapshot.parent)) == ["last.pt"]


def test_the_event_comes_after_the_copy_is_complete(bridge):
    b = bridge(
        """
def train(ctx):
    open("best.pt", "wb").write(b"b" * 3_000_000)
    ctx.checkpoint("best", "best.pt", 4)
    import time
    while True:  # the test reads the file while this process still runs
        ctx.raise_if_stopped()
        time.sleep(0.02)
run(train)
"""
    )
    event = b.wait_for("checkpoint")
    with open(event["path"], "rb") as f:
        assert f.read() == b"b" * 3_000_000
    b.proc.terminate()
    assert b.finish() == 143


def test_without_snapshot_dir_in_the_spec_copies_go_next_to_the_spec(bridge):
    b = bridge('def train(ctx):\n    open("w.bin", "wb").write(b"x")\n    ctx.checkpoint("best", "w.bin", 1)\nrun(train)\n', spec={})
    assert b.finish() == 0, b.stderr
    assert b.of("checkpoint")[0]["path"] == str(b.folder / "checkpoint-snapshots" / "best.bin")


def test_a_publishing_failure_is_an_exception_the_bridge_can_guard_with_safe(bridge):
    b = bridge(
        """
def train(ctx):
    open(ctx.spec["snapshot_dir"], "w").write("a file where the folder should be")
    open("last.pt", "wb").write(b"x")
    publish_last = safe(lambda epoch: ctx.checkpoint("last", "last.pt", epoch), "on_model_save")
    for epoch in (1, 2):
        publish_last(epoch)
    try:
        ctx.checkpoint("middle", "last.pt", 1)
    except ValueError as e:
        ctx.log(str(e))
    ctx.train_end(2, {}, ".")
run(train)
""",
        spec=None,
    )
    assert b.finish() == 0, b.stderr
    assert b.of("checkpoint") == []
    assert b.stderr.count("hook on_model_save failed (training continues)") == 1
    assert "checkpoint kind must be one of ('last', 'best'), got 'middle'" in b.stderr


HEARTBEATS = """
def train(ctx):
    for step in range(1, 501):
        ctx.heartbeat(step)
    ctx.train_end(1, {}, ".")
run(train)
"""


def test_heartbeats_are_throttled_to_one_per_interval(bridge):
    b = bridge(HEARTBEATS)
    assert b.finish() == 0, b.stderr
    assert b.of("heartbeat") == [{"event": "heartbeat", "step": 1}]


def test_TRAINER_HEARTBEAT_S_sets_the_interval(bridge):
    b = bridge(HEARTBEATS, env={"TRAINER_HEARTBEAT_S": "0"})
    assert b.finish() == 0, b.stderr
    assert [e["step"] for e in b.of("heartbeat")] == list(range(1, 501))
    bad = bridge(HEARTBEATS, env={"TRAINER_HEARTBEAT_S": "soon"})
    assert bad.finish() == 0
    assert len(bad.of("heartbeat")) == 1
    assert "TRAINER_HEARTBEAT_S='soon' is not a number of seconds; using 30.0" in bad.stderr


def test_numbers_keeps_finite_floats_under_trimmed_keys():
    class Scalar:  # a tensor or numpy scalar
        def __float__(self):
            return 0.25

    got = numbers({" a ": 1, "b": "2.5", "c": None, "d": float("nan"), "e": "x", "f": Scalar(), 3: float("-inf")})
    assert got == {"a": 1.0, "b": 2.5, "f": 0.25}
    assert numbers(None) == {}
    assert (to_float("1e3"), to_float(float("inf")), to_float([1])) == (1000.0, None, None)
    json.dumps(got, allow_nan=False)
