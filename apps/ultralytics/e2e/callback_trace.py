"""Records what a trainer sees of Ultralytics (or of the test double): every callback in order, with the shape of
the trainer's state at that moment. Used to check that the double matches the real library.

Usage: python callback_trace.py MODEL DATA WORK_DIR EPOCHS  → one JSON document on stdout (last line).
"""

import json
import os
import sys
from pathlib import Path

EVENTS = (
    "on_pretrain_routine_start", "on_pretrain_routine_end", "on_train_start", "on_train_epoch_start",
    "on_train_batch_start", "on_batch_end", "on_train_batch_end", "on_train_epoch_end", "on_model_save",
    "on_fit_epoch_end", "on_train_end", "teardown",
)


def main(model, data, work, epochs):
    work = Path(work)
    os.environ.update(YOLO_CONFIG_DIR=str(work / "cfg"), YOLO_OFFLINE="True", YOLO_AUTOINSTALL="False")
    (work / "cfg").mkdir(parents=True, exist_ok=True)
    for font in ("Arial.ttf", "Arial.Unicode.ttf"):
        src = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
        if os.path.exists(src) and not (work / "cfg" / font).exists():
            (work / "cfg" / font).write_bytes(Path(src).read_bytes())
    from ultralytics import YOLO, settings

    settings.update({k: False for k in ("mlflow", "wandb", "comet", "clearml", "dvc", "hub", "neptune", "raytune", "tensorboard", "sync") if k in settings})
    trace = []

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

    m = YOLO(model)
    for e in EVENTS:
        m.add_callback(e, record(e))
    m.train(data=data, epochs=epochs, imgsz=64, batch=4, device="cpu", workers=0, amp=False, plots=False,
            project=str(work / "runs"), name="trace", exist_ok=True, val=True)
    t = m.trainer
    files = sorted(str(p.relative_to(t.save_dir)) for p in Path(t.save_dir).rglob("*") if p.is_file())
    header = Path(t.csv).read_text().splitlines()[0]
    print(json.dumps({"trace": trace, "files": files, "csv_header": header}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]))
