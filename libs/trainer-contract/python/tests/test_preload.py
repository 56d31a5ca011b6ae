"""--preload: the bridge imports the framework, says `ready`, and waits for the go-ahead before it reads its spec."""

import json
import subprocess

TRAIN = """
import sys
def train(ctx):
    ctx.log("json imported before the spec was read: %s" % ctx.spec["imported_first"])
    ctx.train_end(0, {}, "run")
run(train)
"""


def test_ready_then_the_spec_written_after_it_is_read_once_a_line_arrives(bridge):
    b = bridge(TRAIN, spec="", stdin=subprocess.PIPE, args=["--spec", "spec.json", "--preload", "json"])
    ready = b.wait_for("ready")
    assert ready["module"] == "json" and ready["version"]
    # The spec does not exist until now: the waiting bridge has not looked for it.
    (b.folder / "spec.json").write_text(json.dumps({"imported_first": True}))
    b.close_stdin("go\n")
    assert b.finish() == 0, b.stderr
    assert "[bridge] json imported before the spec was read: True" in b.stderr
    assert [e["event"] for e in b.events] == ["ready", "train_end"]


def test_eof_on_stdin_means_the_trainer_is_gone_and_the_bridge_exits_quietly(bridge):
    b = bridge(TRAIN, spec={}, stdin=subprocess.PIPE, args=["--spec", "never.json", "--preload", "json"])
    b.wait_for("ready")
    b.close_stdin()
    assert b.finish() == 0
    assert [e["event"] for e in b.events] == ["ready"]
    assert b.stderr == ""


def test_a_framework_that_does_not_import_is_an_error_event_and_exit_1(bridge):
    b = bridge(TRAIN, spec={}, stdin=subprocess.PIPE, args=["--spec", "spec.json", "--preload", "no_such_framework"])
    assert b.finish() == 1
    assert [(e["event"], e["type"], e["message"]) for e in b.events] == [("error", "ModuleNotFoundError", "No module named 'no_such_framework'")]


def test_sigterm_while_waiting_stops_it_as_an_interruption(bridge):
    b = bridge(TRAIN, spec={}, stdin=subprocess.PIPE, args=["--spec", "spec.json", "--preload", "json"])
    b.wait_for("ready")
    b.proc.terminate()
    assert b.finish() == 143


def test_more_modules_are_imported_too_and_the_framework_names_the_version(bridge):
    b = bridge(TRAIN, spec={}, stdin=subprocess.PIPE, args=["--spec", "spec.json", "--preload", "json,no_such_helper"])
    assert b.finish() == 1
    assert [(e["event"], e["message"]) for e in b.events] == [("error", "No module named 'no_such_helper'")]
    b = bridge(TRAIN, spec={}, stdin=subprocess.PIPE, args=["--spec", "spec.json", "--preload", "json,csv"])
    assert b.wait_for("ready")["module"] == "json"
    b.close_stdin()
    assert b.finish() == 0


CHECKING = """
def known(name, *more):
    if name == "boom":
        raise KeyError(name)
    return {"known": name in ("resnet18", "vit_tiny"), "more": list(more)}
def train(ctx):
    ctx.train_end(0, {}, "run")
run(train, check=known)
"""


def test_checks_before_the_go_ahead_are_answered_in_order_by_the_preloaded_bridge(bridge):
    b = bridge(CHECKING, spec={}, stdin=subprocess.PIPE, args=["--spec", "spec.json", "--preload", "json"])
    # Two requests and the go-ahead in one write: none of them may be left unread in a buffer.
    b.close_stdin('{"id": 1, "check": ["resnet18", "x"]}\n{"id": 2, "check": ["nope"]}\n{"id": 3, "check": ["boom"]}\ngo\n')
    assert b.finish() == 0, b.stderr
    assert [e["event"] for e in b.events] == ["ready", "checked", "checked", "checked", "train_end"]
    checked = b.of("checked")
    assert checked[0] == {"event": "checked", "id": 1, "result": {"known": True, "more": ["x"]}}
    assert checked[1] == {"event": "checked", "id": 2, "result": {"known": False, "more": []}}
    assert checked[2] == {"event": "checked", "id": 3, "error": "KeyError: 'boom'"}


def test_a_check_in_a_bridge_of_its_own_answers_on_stdout_without_a_spec(bridge):
    b = bridge(CHECKING, spec=None, args=["--check", '["vit_tiny"]'])
    assert b.finish() == 0, b.stderr
    assert json.loads(b.stdout.strip().splitlines()[-1]) == {"event": "checked", "id": 0, "result": {"known": True, "more": []}}
    assert b.events == []


def test_a_bridge_without_a_check_says_so(bridge):
    b = bridge(TRAIN, spec=None, args=["--check", "[]"])
    assert b.finish() == 0
    assert json.loads(b.stdout.strip().splitlines()[-1])["error"] == "this bridge answers no checks"
