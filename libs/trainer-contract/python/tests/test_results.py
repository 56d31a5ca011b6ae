"""results.csv round-trips through the shared writer and reader, whole or not at all."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from trainer_bridge import read_results, write_results  # noqa: E402


def test_rows_round_trip_with_int_epochs_and_only_finite_numbers(tmp_path):
    path = tmp_path / "results.csv"
    write_results(path, [{"epoch": 1, "loss": 0.5, "note": "x"}, {"epoch": 2, "loss": float("nan"), "acc": 0.25}])
    assert path.read_text(encoding="utf-8").splitlines() == ["epoch,loss,note,acc", "1,0.5,x,", "2,nan,,0.25"]
    assert read_results(path) == [{"epoch": 1, "loss": 0.5}, {"epoch": 2, "acc": 0.25}]
    assert list(tmp_path.iterdir()) == [path]  # the temp file was renamed, not left beside it


def test_fixed_columns_keep_their_order_and_drop_other_keys(tmp_path):
    path = tmp_path / "results.csv"
    write_results(path, [{"b": 2, "a": 1, "extra": 9}], fields=["a", "b", "c"])
    assert path.read_bytes() == b"a,b,c\n1,2,\n"  # "\n" line ends: no "\r" in the last column


def test_padded_headers_are_trimmed_and_a_missing_file_is_no_rows(tmp_path):
    path = tmp_path / "results.csv"
    path.write_text("  epoch,   train/box_loss\n      1,   1.25\n", encoding="utf-8")
    assert read_results(path) == [{"epoch": 1, "train/box_loss": 1.25}]
    assert read_results(tmp_path / "absent.csv") == []


def test_no_rows_and_no_columns_writes_nothing(tmp_path):
    path = tmp_path / "results.csv"
    write_results(path, [])
    assert not path.exists()
