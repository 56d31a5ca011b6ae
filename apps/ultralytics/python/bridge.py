"""Ultralytics bridge: trains one job for trainer-ultralytics on the shared runtime (trainer_bridge, CONTRACT section 8).

The spec (JSON, written by src/driver.ts) adds to the runtime's common keys (task, resume, snapshot_dir, ...):
  model        model to build or load (yolov8n.yaml, /abs/weights.pt, yolov8n.pt, ...)
  data         absolute data.yaml (or a classify directory)
  project,name the run directory is project/name (always exist_ok)
  train_args   Ultralytics training kwargs (epochs, imgsz, lr0, ...), already validated
  config_dir   YOLO_CONFIG_DIR (inside WORK_DIR)

Stop points are Ultralytics callbacks, none of them inside a checkpoint write, so after SIGTERM the previous epoch's
last.pt (with optimizer state) stays resumable.
"""

import csv
import glob
import os
import shutil
from pathlib import Path

from trainer_bridge import ModelUnavailableError, numbers, run, safe

INTEGRATIONS = ("sync", "hub", "clearml", "comet", "dvc", "mlflow", "neptune", "raytune", "tensorboard", "wandb")
# Only these may change on resume; Ultralytics takes everything else from the checkpoint.
RESUME_OVERRIDES = ("imgsz", "batch", "device", "close_mosaic")
FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
)


# --- environment, before `import ultralytics` -------------------------------------------------------------------


def prepare_environment(ctx):
    config_dir = Path(ctx.spec["config_dir"])
    config_dir.mkdir(parents=True, exist_ok=True)
    os.environ["YOLO_CONFIG_DIR"] = str(config_dir)
    os.environ["YOLO_OFFLINE"] = "True"
    os.environ["YOLO_AUTOINSTALL"] = "False"
    # Third-party SDKs that Ultralytics' integrations would wake up, in case a setting slips through.
    os.environ.setdefault("WANDB_MODE", "disabled")
    os.environ.setdefault("COMET_MODE", "disabled")


def install_font(ctx, config_dir):
    """check_det_dataset() calls check_font('Arial.ttf'), which downloads it (no timeout) unless it is in Ultralytics'
    config dir (YOLO_CONFIG_DIR in 8.3, YOLO_CONFIG_DIR/Ultralytics in 8.4)."""
    wanted = [config_dir / "Arial.ttf", config_dir / "Arial.Unicode.ttf"]
    if all(p.exists() for p in wanted):
        return
    source = next((p for p in FONT_CANDIDATES if os.path.isfile(p)), None)
    if source is None:
        found = sorted(glob.glob("/usr/share/fonts/**/*.ttf", recursive=True))
        source = found[0] if found else None
    if source is None:
        ctx.log("no local TTF font found; Ultralytics may try to download Arial.ttf")
        return
    for p in wanted:
        if not p.exists():
            shutil.copyfile(source, p)


def configure_settings(ctx):
    from ultralytics import settings
    from ultralytics.utils import USER_CONFIG_DIR

    install_font(ctx, Path(USER_CONFIG_DIR))
    work = Path(ctx.spec["config_dir"]).parent
    updates = {k: False for k in INTEGRATIONS if k in settings}
    for key, sub in (("datasets_dir", "datasets"), ("weights_dir", "weights"), ("runs_dir", "runs")):
        if key in settings:
            updates[key] = str(work / sub)
    settings.update(updates)


# --- resume ------------------------------------------------------------------------------------------------------


def prepare_resume(ctx, run_dir):
    """Copies the checkpoint into this run and points its paths at this WORK_DIR (a restarted pod has a new one).
    Returns the path to resume from, or None when the checkpoint is finished (stripped) and training starts over."""
    from ultralytics.utils.patches import torch_load, torch_save

    spec = ctx.spec
    src = Path(spec["resume"])
    ckpt = torch_load(str(src), map_location="cpu")
    if not isinstance(ckpt, dict) or ckpt.get("optimizer") is None or int(ckpt.get("epoch", -1)) < 0:
        ctx.log(f"{src} is a finished checkpoint (no optimizer state); training starts from the beginning")
        return None
    args = dict(ckpt.get("train_args") or {})
    args.update(data=spec["data"], project=spec["project"], name=spec["name"], exist_ok=True, save_dir=str(run_dir))
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


# --- best epoch --------------------------------------------------------------------------------------------------


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
    def __init__(self, ctx):
        self.ctx = ctx
        self.last_epoch_sent = 0
        self.epoch_open = False
        self.epoch_metrics = {}
        self.steps = 0

    def on_train_start(self, trainer):
        self.last_epoch_sent = int(trainer.start_epoch)
        self.ctx.train_start(epochs=int(trainer.epochs), start_epoch=int(trainer.start_epoch), save_dir=str(trainer.save_dir))

    def on_train_epoch_start(self, _trainer):
        self.epoch_open = True

    def on_train_batch_end(self, _trainer):
        self.steps += 1
        self.ctx.heartbeat(self.steps)

    def on_model_save(self, trainer):
        # save_model() has returned, so both files are complete on disk here.
        epoch = int(trainer.epoch) + 1
        if Path(trainer.last).exists():
            self.ctx.checkpoint("last", trainer.last, epoch)
        if Path(trainer.best).exists() and trainer.best_fitness == trainer.fitness:
            self.ctx.checkpoint("best", trainer.best, epoch)

    def on_fit_epoch_end(self, trainer):
        epoch = int(trainer.epoch) + 1
        # final_eval() fires this again after the last epoch for best.pt's validation (8.3 at the last epoch, 8.4 at
        # epochs + 1), outside any training epoch: skip it.
        if not self.epoch_open or epoch <= self.last_epoch_sent:
            return
        self.epoch_open = False
        self.last_epoch_sent = epoch
        metrics = {}
        if getattr(trainer, "tloss", None) is not None:
            metrics.update(numbers(trainer.label_loss_items(trainer.tloss, prefix="train")))
        metrics.update(numbers(trainer.metrics))
        self.epoch_metrics[epoch] = metrics
        # `time=` budgets make Ultralytics re-estimate the total (`epochs`) after every epoch.
        lr, epoch_time = getattr(trainer, "lr", None), getattr(trainer, "epoch_time", None)
        self.ctx.epoch_end(epoch, metrics, lr=lr, epoch_time=epoch_time, epochs=int(trainer.epochs))

    def register(self, model):
        for event in ("on_train_start", "on_train_epoch_start", "on_train_batch_end", "on_model_save", "on_fit_epoch_end"):
            model.add_callback(event, safe(getattr(self, event), event))
        # Stop points: none of them is inside a checkpoint write.
        for event in ("on_pretrain_routine_end", "on_train_start", "on_train_epoch_start", "on_train_batch_end"):
            model.add_callback(event, self.ctx.raise_if_stopped)


# --- main --------------------------------------------------------------------------------------------------------


def load_model(spec):
    from ultralytics import YOLO

    try:
        return YOLO(spec["model"], task=spec.get("task"))
    except (ConnectionError, TimeoutError, OSError) as e:
        if isinstance(e, FileNotFoundError):
            raise ModelUnavailableError(f"model {spec['model']}: {e}") from e
        raise
    except Exception as e:  # noqa: BLE001
        raise ModelUnavailableError(f"cannot load model {spec['model']}: {type(e).__name__}: {e}") from e


def train(ctx):
    spec = ctx.spec
    prepare_environment(ctx)
    configure_settings(ctx)
    ctx.raise_if_stopped()
    from ultralytics import YOLO

    run_dir = Path(spec["project"]) / spec["name"]
    train_args = dict(spec.get("train_args") or {})
    resume_from = prepare_resume(ctx, run_dir) if spec.get("resume") else None
    if resume_from is not None:
        model = YOLO(str(resume_from))
        kwargs = {k: train_args[k] for k in RESUME_OVERRIDES if k in train_args}
        kwargs["resume"] = True
    else:
        model = load_model(spec)
        kwargs = {**train_args, "data": spec["data"], "project": spec["project"], "name": spec["name"], "exist_ok": True}
    hooks = Hooks(ctx)
    hooks.register(model)
    ctx.raise_if_stopped()
    model.train(**kwargs)

    trainer = model.trainer
    save_dir = Path(trainer.save_dir)
    last_sent = hooks.last_epoch_sent
    fallback = (last_sent, hooks.epoch_metrics.get(last_sent, {}))
    best_epoch, final_metrics = best_epoch_from(read_results(save_dir / "results.csv"), fallback)
    ctx.train_end(
        best_epoch,
        final_metrics,
        save_dir,
        best=trainer.best if Path(trainer.best).exists() else None,
        last=trainer.last if Path(trainer.last).exists() else None,
    )


if __name__ == "__main__":
    run(train)
