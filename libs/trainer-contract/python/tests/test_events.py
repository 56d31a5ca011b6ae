"""The event channel: what reaches the TypeScript side, where, from which rank, and what happens when it cannot."""

import json
import os

HAPPY = """
def train(ctx):
    ctx.train_start(epochs=2, start_epoch=0, save_dir="/runs/r")
    ctx.epoch_end(1, {" train/loss ": "0.5", "nan": float("nan"), "inf": float("inf"), "text": "n/a", 7: 1}, lr={"lr/pg0": 0.01}, epoch_time=float("nan"), epochs=2)
    ctx.train_end(1, {"metrics/mAP50(B)": 0.25, "bad": float("-inf")}, "/runs/r", best="/runs/r/best.pt")

run(train)
"""


def test_events_reach_fd3_in_order_as_json_lines_without_nan_or_inf(bridge):
    b = bridge(HAPPY)
    assert b.finish() == 0, b.stderr
    assert [e["event"] for e in b.events] == ["train_start", "epoch_end", "train_end"]
    assert b.events[0] == {"event": "train_start", "epochs": 2, "start_epoch": 0, "save_dir": "/runs/r"}
    # Keys are trimmed, numeric strings become numbers, anything else is left out; a NaN epoch_time is dropped.
    assert b.events[1] == {"event": "epoch_end", "epoch": 1, "metrics": {"train/loss": 0.5, "7": 1.0}, "lr": {"lr/pg0": 0.01}, "epoch_time": None, "epochs": 2}
    assert b.events[2] == {
        "event": "train_end",
        "best_epoch": 1,
        "final_metrics": {"metrics/mAP50(B)": 0.25},
        "save_dir": "/runs/r",
        "best": "/runs/r/best.pt",
        "last": None,
    }


def test_nan_anywhere_in_extra_fields_is_dropped_not_a_crash(bridge):
    b = bridge(
        """
def train(ctx):
    ctx.train_start(epochs=1, extra={"a": float("nan"), "b": [1.0, float("inf")]}, score=float("nan"))
    ctx.train_end(0, {}, "/r")
run(train)
"""
    )
    assert b.finish() == 0, b.stderr
    assert b.events[0]["extra"] == {"b": [1.0, None]}
    assert "score" not in b.events[0]


def test_events_go_to_the_file_named_by_TRAINER_EVENTS_PATH(bridge, tmp_path):
    path = tmp_path / "events.jsonl"
    b = bridge(HAPPY, env={"TRAINER_EVENTS_PATH": str(path)})
    assert b.finish() == 0, b.stderr
    assert b.events == []
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert [e["event"] for e in lines] == ["train_start", "epoch_end", "train_end"]


def test_events_go_through_a_fifo_named_by_TRAINER_EVENTS_PATH(bridge, tmp_path):
    fifo = tmp_path / "events.fifo"
    os.mkfifo(fifo)
    b = bridge(HAPPY, env={"TRAINER_EVENTS_PATH": str(fifo)})
    with open(fifo, encoding="utf-8") as f:
        lines = [json.loads(line) for line in f]
    assert b.finish() == 0, b.stderr
    assert [e["event"] for e in lines] == ["train_start", "epoch_end", "train_end"]


def test_only_rank_0_reports(bridge, tmp_path):
    body = """
import os
def train(ctx):
    ctx.train_start(epochs=1)
    open("weights.pt", "wb").write(b"w")
    published = ctx.checkpoint("last", "weights.pt", 1)
    ctx.log(f"rank0={ctx.is_rank0} published={published}")
    ctx.train_end(1, {}, ".")
run(train)
"""
    other = bridge(body, env={"RANK": "1", "LOCAL_RANK": "1"})
    assert other.finish() == 0, other.stderr
    assert other.events == []
    assert "[bridge] rank0=False published=None" in other.stderr
    assert not (other.folder / "snapshots").exists()
    zero = bridge(body, env={"RANK": "0"})
    assert zero.finish() == 0, zero.stderr
    assert [e["event"] for e in zero.events] == ["train_start", "checkpoint", "train_end"]


def test_a_missing_channel_is_said_once_and_training_goes_on(bridge):
    b = bridge(HAPPY, events_fd=False)
    assert b.finish() == 0
    assert b.stderr.count("[bridge] the event channel (fd 3) cannot be opened") == 1


def test_a_failing_write_is_said_once_on_stderr_and_training_goes_on(bridge):
    b = bridge(
        """
import os, time
def train(ctx):
    ctx.train_start(epochs=3)
    time.sleep(0.5)  # the reader goes away meanwhile
    for epoch in (1, 2, 3):
        ctx.epoch_end(epoch, {"loss": 1.0 / epoch})
    open("done", "w").write("trained to the end")
run(train)
""",
        pump=False,
    )
    assert b.close_events_after_first()["event"] == "train_start"
    assert b.finish() == 0, b.stderr
    assert b.stderr.count("could not send the epoch_end event (training continues): BrokenPipeError") == 1
    assert (b.folder / "done").read_text() == "trained to the end"
