"""Records what a trainer sees of Ultralytics (or of the test double): every callback in order, with the shape of
the trainer's state at that moment, the checkpoint dict layout (mid-training and after final_eval strips it), and
a resume from an interrupted last.pt. Used to check that the double matches the real library.

Usage: python callback_trace.py MODEL DATA WORK_DIR EPOCHS  → one JSON document on stdout (last line).
"""

import csv
import json
import math
import os
import sys
from pathlib import Path

EVENTS = (
    "on_pretrain_routine_start", "on_pretrain_routine_end", "on_train_start", "on_train_epoch_start",
    "on_train_batch_start", "on_batch_end", "on_train_batch_end", "on_train_epoch_end", "on_model_save",
    "on_fit_epoch_end", "on_train_end", "teardown",
)
TRAIN = dict(imgsz=64, batch=4, device="cpu", workers=0, amp=False, plots=False, exist_ok=True, val=True)


class Stop(Exception):
    """Raised from a callback to leave train() with a resumable last.pt, as the bridge does on SIGTERM."""


def kind(v):
    if v is None:
        return "None"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, (str, dict, list)):
        return type(v).__name__
    return "object"


def layout(path):
    """The checkpoint's keys and what kind of value each holds (not the values: they differ run to run)."""
    from ultralytics.utils.patches import torch_load

    ckpt = torch_load(str(path), map_location="cpu")
    out = {k: kind(v) for k, v in sorted(ckpt.items())}
    out["epoch=="] = ckpt.get("epoch")
    out["train_metrics_keys"] = sorted((ckpt.get("train_metrics") or {}).keys())
    out["train_results_keys"] = sorted((ckpt.get("train_results") or {}).keys())
    return out, ckpt


def rows(csv_path):
    with open(csv_path, encoding="utf-8") as f:
        return [{k.strip(): float(v) for k, v in r.items()} for r in csv.DictReader(f)]


def matching_epochs(train_metrics, table):
    """Epochs whose results.csv row holds exactly best.pt's train_metrics (what the bridge reads best_epoch from)."""
    saved = {k: float(v) for k, v in (train_metrics or {}).items() if k != "fitness"}
    hits = []
    for r in table:
        shared = [k for k in saved if k in r]
        if shared and all(math.isclose(r[k], saved[k], rel_tol=2e-5, abs_tol=1e-9) for k in shared):
            hits.append(int(r["epoch"]))
    return hits


def recorder(trace):
    def record(event):
        def hook(t):
            if event in ("on_train_batch_start", "on_batch_end", "on_train_batch_end"):
                if trace and trace[-1]["event"] == event:
                    return  # one entry per run of batches is enough
            entry = {"event": event, "has_epoch": hasattr(t, "epoch")}
            if hasattr(t, "epoch"):
                entry["epoch"] = t.epoch
            if event in ("on_train_start", "on_fit_epoch_end", "on_model_save"):
                entry["metrics_keys"] = sorted((t.metrics or {}).keys())
                entry["fitness_is_none"] = t.fitness is None
                entry["path_types"] = sorted({type(getattr(t, a)).__name__.replace("PosixPath", "Path") for a in ("save_dir", "wdir", "best", "last", "csv")})
                entry["weights"] = sorted(p.name for p in Path(t.wdir).glob("*.pt"))
                entry["start_epoch"] = t.start_epoch
                entry["epochs"] = t.epochs
            if event == "on_fit_epoch_end":
                entry["loss_items"] = sorted(t.label_loss_items(t.tloss, prefix="train").keys()) if t.tloss is not None else None
                entry["lr_keys"] = sorted(getattr(t, "lr", {}).keys())
                entry["epoch_time_is_number"] = isinstance(t.epoch_time, (int, float))
                entry["best_epoch_is_int"] = isinstance(t.stopper.best_epoch, int)
                entry["results_dict_keys"] = sorted(t.validator.metrics.results_dict.keys())
            trace.append(entry)

        return hook

    return record


def main(model, data, work, epochs):
    work = Path(work)
    os.environ.update(YOLO_CONFIG_DIR=str(work / "cfg"), YOLO_OFFLINE="True", YOLO_AUTOINSTALL="False")
    (work / "cfg" / "Ultralytics").mkdir(parents=True, exist_ok=True)
    for font in ("Arial.ttf", "Arial.Unicode.ttf"):
        src = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
        if os.path.exists(src) and not (work / "cfg" / "Ultralytics" / font).exists():
            (work / "cfg" / "Ultralytics" / font).write_bytes(Path(src).read_bytes())
    from ultralytics import YOLO, settings

    settings.update({k: False for k in ("mlflow", "wandb", "comet", "clearml", "dvc", "hub", "neptune", "raytune", "tensorboard", "sync") if k in settings})

    # 1. A whole run: callbacks, files, results.csv, checkpoints before and after final_eval strips them.
    trace, mid = [], {}
    m = YOLO(model)
    record = recorder(trace)
    for e in EVENTS:
        m.add_callback(e, record(e))
    m.add_callback("on_model_save", lambda t: mid.setdefault("last", layout(t.last)[0]) if t.epoch == 0 else None)
    m.train(data=data, epochs=epochs, project=str(work / "runs"), name="trace", **TRAIN)
    t = m.trainer
    files = sorted(str(p.relative_to(t.save_dir)) for p in Path(t.save_dir).rglob("*") if p.is_file())
    header = Path(t.csv).read_text().splitlines()[0]
    final_last, _ = layout(t.last)
    final_best, best_ckpt = layout(t.best)
    table = rows(t.csv)

    # 2. Interrupted after epoch 1, then resumed from its last.pt in a new process's way: YOLO(last).train(resume=True).
    stopper = YOLO(model)

    def stop_at_second_epoch(tr):
        if tr.epoch == 1:
            raise Stop()

    stopper.add_callback("on_train_epoch_start", stop_at_second_epoch)
    try:
        stopper.train(data=data, epochs=epochs, project=str(work / "runs"), name="resume", **TRAIN)
    except Stop:
        pass
    interrupted, _ = layout(work / "runs" / "resume" / "weights" / "last.pt")
    resume_trace = []
    resumed = YOLO(str(work / "runs" / "resume" / "weights" / "last.pt"))
    record = recorder(resume_trace)
    for e in ("on_train_start", "on_train_epoch_start", "on_fit_epoch_end", "on_train_end"):
        resumed.add_callback(e, record(e))
    resumed.train(resume=True, **{k: TRAIN[k] for k in ("imgsz", "batch", "device")})
    resumed_rows = [int(r["epoch"]) for r in rows(work / "runs" / "resume" / "results.csv")]

    print(json.dumps({
        "trace": trace,
        "files": files,
        "csv_header": header,
        "checkpoint": {"mid_training_last": mid.get("last"), "final_last": final_last, "final_best": final_best},
        "best_pt_matches_rows": matching_epochs(best_ckpt.get("train_metrics"), table) != [],
        "resume": {"interrupted_last": interrupted, "trace": resume_trace, "results_epochs": resumed_rows},
    }))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]))
