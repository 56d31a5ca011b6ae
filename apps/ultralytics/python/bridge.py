"""Ultralytics bridge: runs one training job for the TypeScript trainer (CONTRACT section 8).

Usage: python bridge.py --spec spec.json

The spec (JSON) names everything:
  model        model to build or load (yolov8n.yaml, /abs/weights.pt, yolov8n.pt, ...)
  task         detect | segment | pose | classify | obb
  data         absolute data.yaml (or a classify directory)
  project,name the run directory is project/name (always exist_ok)
  train_args   Ultralytics training kwargs (epochs, imgsz, lr0, ...), already validated
  resume       optional path to a last.pt to continue from
  config_dir   YOLO_CONFIG_DIR (inside WORK_DIR)
  snapshot_dir where complete copies of last.pt/best.pt are published

Events go to fd 3 as JSON lines: train_start, epoch_end (once per epoch, 1-based), checkpoint, train_end, error.
stdout/stderr stay Ultralytics' own logs.

SIGTERM/SIGINT only set a flag; the next batch boundary raises BridgeInterrupted, so the previous epoch's
last.pt (with optimizer state) stays resumable and no checkpoint write is ever cut in half. Exit code 143.
"""

import argparse
import csv
import glob
import json
import math
import os
import shutil
import signal
import sys
import threading
import traceback
from pathlib import Path

EXIT_INTERRUPTED = 143
EXIT_FAILED = 1
INTEGRATIONS = ("sync", "hub", "clearml", "comet", "dvc", "mlflow", "neptune", "raytune", "tensorboard", "wandb")
# Only these may change on resume; Ultralytics takes everything else from the checkpoint.
RESUME_OVERRIDES = ("imgsz", "batch", "device", "close_mosaic")
FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
)


class BridgeInterrupted(Exception):
    """Raised from a training hook after SIGTERM/SIGINT; never caught by the hook wrapper."""


class ModelUnavailableError(Exception):
    """The model file exists but cannot be loaded (corrupt, not an Ultralytics checkpoint). The TS side maps this
    type name to MODEL_UNAVAILABLE (exit 3); a network failure while downloading stays a retryable failure."""


class Events:
    """JSON lines on fd 3 (or TRAINER_EVENTS_FD). Thread-safe; NaN/inf are dropped since JSON cannot carry them."""

    def __init__(self):
        fd = int(os.environ.get("TRAINER_EVENTS_FD", "3"))
        try:
            self._out = os.fdopen(fd, "w", buffering=1, encoding="utf-8", closefd=False)
        except OSError:
            self._out = None
            log(f"fd {fd} is not open; bridge events are discarded")
        self._lock = threading.Lock()

    def emit(self, event, **fields):
        if self._out is None:
            return
        line = json.dumps({"event": event, **fields}, allow_nan=False, default=str)
        with self._lock:
            self._out.write(line + "\n")
            self._out.flush()


def log(msg):
    sys.stderr.write(f"[bridge] {msg}\n")
    sys.stderr.flush()


def to_float(value):
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def numbers(mapping):
    out = {}
    for k, v in (mapping or {}).items():
        f = to_float(v)
        if f is not None:
            out[str(k).strip()] = f
    return out


# --- environment, before `import ultralytics` -------------------------------------------------------------------


def prepare_environment(spec):
    config_dir = Path(spec["config_dir"])
    config_dir.mkdir(parents=True, exist_ok=True)
    os.environ["YOLO_CONFIG_DIR"] = str(config_dir)
    os.environ["YOLO_OFFLINE"] = "True"
    os.environ["YOLO_AUTOINSTALL"] = "False"
    # Third-party SDKs that Ultralytics' integrations would wake up, in case a setting slips through.
    os.environ.setdefault("WANDB_MODE", "disabled")
    os.environ.setdefault("COMET_MODE", "disabled")
    install_font(config_dir)


def install_font(config_dir):
    """check_det_dataset() calls check_font('Arial.ttf'), which downloads it (no timeout) unless it is here."""
    wanted = [config_dir / "Arial.ttf", config_dir / "Arial.Unicode.ttf"]
    if all(p.exists() for p in wanted):
        return
    source = next((p for p in FONT_CANDIDATES if os.path.isfile(p)), None)
    if source is None:
        found = sorted(glob.glob("/usr/share/fonts/**/*.ttf", recursive=True))
        source = found[0] if found else None
    if source is None:
        log("no local TTF font found; Ultralytics may try to download Arial.ttf")
        return
    for p in wanted:
        if not p.exists():
            shutil.copyfile(source, p)


def configure_settings(spec):
    from ultralytics import settings

    work = Path(spec["config_dir"]).parent
    updates = {k: False for k in INTEGRATIONS if k in settings}
    for key, sub in (("datasets_dir", "datasets"), ("weights_dir", "weights"), ("runs_dir", "runs")):
        if key in settings:
            updates[key] = str(work / sub)
    settings.update(updates)


# --- checkpoints -------------------------------------------------------------------------------------------------


def publish(src, snapshot_dir, kind):
    """A complete, private copy of a checkpoint. Ultralytics rewrites last.pt in place (write_bytes truncates the
    same inode), so a hard link would change under an upload; a copy renamed into place never does."""
    snapshot_dir.mkdir(parents=True, exist_ok=True)
    dst = snapshot_dir / f"{kind}.pt"
    tmp = snapshot_dir / f".{kind}.pt.tmp"
    shutil.copyfile(src, tmp)
    os.replace(tmp, dst)
    return dst


def prepare_resume(spec, run_dir):
    """Copies the checkpoint into this run and points its paths at this WORK_DIR (a restarted pod has a new one).
    Returns the path to resume from, or None when the checkpoint is finished (stripped) and training starts over."""
    from ultralytics.utils.patches import torch_load, torch_save

    src = Path(spec["resume"])
    ckpt = torch_load(str(src), map_location="cpu")
    if not isinstance(ckpt, dict) or ckpt.get("optimizer") is None or int(ckpt.get("epoch", -1)) < 0:
        log(f"{src} is a finished checkpoint (no optimizer state); training starts from the beginning")
        return None
    args = dict(ckpt.get("train_args") or {})
    args.update(
        data=spec["data"],
        project=spec["project"],
        name=spec["name"],
        exist_ok=True,
        save_dir=str(run_dir),
    )
    ckpt["train_args"] = args
    weights = run_dir / "weights"
    weights.mkdir(parents=True, exist_ok=True)
    restore_results_csv(run_dir / "results.csv", ckpt.get("train_results"))
    target = weights / "last.pt"
    tmp = weights / ".last.pt.resume"
    torch_save(ckpt, str(tmp))
    os.replace(tmp, target)
    return target


def restore_results_csv(path, results):
    """Earlier epochs' rows, so results.csv stays whole and the best epoch can be found after a restart."""
    if path.exists() or not isinstance(results, dict) or not results:
        return
    keys = list(results.keys())
    rows = zip(*(results[k] for k in keys))
    with open(path, "w", encoding="utf-8") as f:
        f.write(",".join(keys) + "\n")
        for row in rows:
            f.write(",".join("%.6g" % float(v) for v in row) + "\n")


def read_results(path):
    if not path.exists():
        return []
    with open(path, encoding="utf-8") as f:
        return [{k.strip(): v.strip() for k, v in row.items() if k} for row in csv.DictReader(f)]


def fitness(metrics):
    """Ultralytics' fitness: 0.1*mAP50 + 0.9*mAP50-95 per (B)/(M)/(P) head, summed; classify: mean of top1/top5."""
    if "metrics/accuracy_top1" in metrics:
        return (metrics.get("metrics/accuracy_top1", 0.0) + metrics.get("metrics/accuracy_top5", 0.0)) / 2
    total = 0.0
    for head in ("B", "M", "P"):
        m50, m = metrics.get(f"metrics/mAP50({head})"), metrics.get(f"metrics/mAP50-95({head})")
        if m50 is not None and m is not None:
            total += 0.1 * m50 + 0.9 * m
    return total


def best_epoch_from(rows, fallback):
    """The epoch Ultralytics saved best.pt at: the highest fitness, the later one on ties (it rewrites on ==)."""
    best, best_fit = None, None
    for row in rows:
        values = numbers(row)
        epoch = values.get("epoch")
        if epoch is None:
            continue
        fit = fitness(values)
        if best_fit is None or fit >= best_fit:
            best, best_fit = (int(epoch), values), fit
    if best is None:
        return fallback
    epoch, values = best
    return epoch, {k: v for k, v in values.items() if k not in ("epoch", "time") and not k.startswith("lr/")}


# --- hooks -------------------------------------------------------------------------------------------------------


class Hooks:
    def __init__(self, events, snapshot_dir):
        self.events = events
        self.snapshot_dir = snapshot_dir
        self.stop_requested = False
        self.last_epoch_sent = 0
        self.epoch_metrics = {}
        self.failed = set()

    def request_stop(self, signum, _frame):
        if not self.stop_requested:
            log(f"received signal {signum}; stopping at the next batch")
        self.stop_requested = True

    def check_stop(self, _trainer=None):
        if self.stop_requested:
            raise BridgeInterrupted("stopped by signal")

    def safe(self, name, fn):
        """Our own bugs must never abort a training run: log once per hook and carry on."""

        def wrapper(trainer):
            try:
                fn(trainer)
            except BridgeInterrupted:
                raise
            except Exception as e:  # noqa: BLE001
                if name not in self.failed:
                    self.failed.add(name)
                    log(f"hook {name} failed (training continues): {type(e).__name__}: {e}")

        return wrapper

    def on_train_start(self, trainer):
        self.last_epoch_sent = int(trainer.start_epoch)
        self.events.emit(
            "train_start",
            epochs=int(trainer.epochs),
            start_epoch=int(trainer.start_epoch),
            save_dir=str(trainer.save_dir),
        )

    def on_model_save(self, trainer):
        # save_model() has returned, so both files are complete on disk here.
        epoch = int(trainer.epoch) + 1
        if Path(trainer.last).exists():
            path = publish(Path(trainer.last), self.snapshot_dir, "last")
            self.events.emit("checkpoint", kind="last", path=str(path), epoch=epoch)
        if Path(trainer.best).exists() and trainer.best_fitness == trainer.fitness:
            path = publish(Path(trainer.best), self.snapshot_dir, "best")
            self.events.emit("checkpoint", kind="best", path=str(path), epoch=epoch)

    def on_fit_epoch_end(self, trainer):
        epoch = int(trainer.epoch) + 1
        # final_eval() fires this again for the last epoch (best.pt's validation, no val/* losses): skip it.
        if epoch <= self.last_epoch_sent:
            return
        self.last_epoch_sent = epoch
        metrics = {}
        if getattr(trainer, "tloss", None) is not None:
            metrics.update(numbers(trainer.label_loss_items(trainer.tloss, prefix="train")))
        metrics.update(numbers(trainer.metrics))
        self.epoch_metrics[epoch] = metrics
        self.events.emit(
            "epoch_end",
            epoch=epoch,
            # `time=` budgets make Ultralytics re-estimate the total after every epoch.
            epochs=int(trainer.epochs),
            metrics=metrics,
            lr=numbers(getattr(trainer, "lr", None)),
            epoch_time=to_float(getattr(trainer, "epoch_time", None)),
        )

    def register(self, model):
        for event, fn in (
            ("on_train_start", self.on_train_start),
            ("on_model_save", self.on_model_save),
            ("on_fit_epoch_end", self.on_fit_epoch_end),
        ):
            model.add_callback(event, self.safe(event, fn))
        # Stop points: none of them is inside a checkpoint write.
        for event in ("on_pretrain_routine_end", "on_train_start", "on_train_epoch_start", "on_train_batch_end"):
            model.add_callback(event, self.check_stop)


# --- main --------------------------------------------------------------------------------------------------------


def train(spec, events, hooks):
    prepare_environment(spec)
    configure_settings(spec)
    hooks.check_stop()
    from ultralytics import YOLO

    run_dir = Path(spec["project"]) / spec["name"]
    train_args = dict(spec.get("train_args") or {})
    resume_from = prepare_resume(spec, run_dir) if spec.get("resume") else None

    if resume_from is not None:
        model = YOLO(str(resume_from))
        kwargs = {k: train_args[k] for k in RESUME_OVERRIDES if k in train_args}
        kwargs["resume"] = True
    else:
        try:
            model = YOLO(spec["model"], task=spec.get("task"))
        except (ConnectionError, TimeoutError, OSError) as e:
            if isinstance(e, FileNotFoundError):
                raise ModelUnavailableError(f"model {spec['model']}: {e}") from e
            raise
        except Exception as e:  # noqa: BLE001
            raise ModelUnavailableError(f"cannot load model {spec['model']}: {type(e).__name__}: {e}") from e
        kwargs = {
            **train_args,
            "data": spec["data"],
            "project": spec["project"],
            "name": spec["name"],
            "exist_ok": True,
        }
    hooks.register(model)
    hooks.check_stop()
    model.train(**kwargs)

    trainer = model.trainer
    save_dir = Path(trainer.save_dir)
    last_sent = hooks.last_epoch_sent
    fallback = (last_sent, hooks.epoch_metrics.get(last_sent, {}))
    best_epoch, final_metrics = best_epoch_from(read_results(save_dir / "results.csv"), fallback)
    events.emit(
        "train_end",
        best_epoch=int(best_epoch),
        final_metrics=numbers(final_metrics),
        save_dir=str(save_dir),
        best=str(trainer.best) if Path(trainer.best).exists() else None,
        last=str(trainer.last) if Path(trainer.last).exists() else None,
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", required=True)
    opts = parser.parse_args(argv)

    events = Events()
    with open(opts.spec, encoding="utf-8") as f:
        spec = json.load(f)
    hooks = Hooks(events, Path(spec.get("snapshot_dir") or Path(spec["project"]) / "snapshots"))
    signal.signal(signal.SIGTERM, hooks.request_stop)
    signal.signal(signal.SIGINT, hooks.request_stop)

    try:
        train(spec, events, hooks)
    except BridgeInterrupted:
        log("interrupted; the last complete checkpoint is kept")
        return EXIT_INTERRUPTED
    except BaseException as e:  # noqa: BLE001 - every failure must reach the TS side as an event
        if isinstance(e, SystemExit) and e.code in (0, None):
            raise
        # An interrupt that surfaces as another exception (e.g. a DataLoader worker killed by the same signal).
        if hooks.stop_requested:
            log(f"interrupted ({type(e).__name__}: {e})")
            return EXIT_INTERRUPTED
        tb = traceback.format_exc()
        sys.stderr.write(tb)
        events.emit("error", type=type(e).__name__, message=str(e), traceback=tb[-8000:])
        return EXIT_FAILED
    return 0


if __name__ == "__main__":
    sys.exit(main())
