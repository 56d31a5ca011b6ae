"""Ultralytics bridge: trains one job for trainer-ultralytics on the shared runtime (trainer_bridge, CONTRACT section 8).

The spec (JSON, written by src/driver.ts) adds to the runtime's common keys (task, resume, snapshot_dir, ...):
  model        model to build or load (yolov8n.yaml, /abs/weights.pt, yolov8n.pt, ...)
  data         absolute data.yaml (or a classify directory)
  project,name the run directory is project/name (always exist_ok)
  train_args   Ultralytics training kwargs (epochs, imgsz, lr0, ...), already validated

Stop points are Ultralytics callbacks, none of them inside a checkpoint write, so after SIGTERM the previous epoch's
last.pt (with optimizer state) stays resumable.
"""

import glob
import math
import os
import shutil
from pathlib import Path

from trainer_bridge import ModelUnavailableError, log, numbers, read_results, run, safe, use_cpu_threads, write_results

INTEGRATIONS = ("sync", "hub", "clearml", "comet", "dvc", "mlflow", "neptune", "raytune", "tensorboard", "wandb")
# Only these may change on resume; Ultralytics takes everything else from the checkpoint.
RESUME_OVERRIDES = ("imgsz", "batch", "device", "close_mosaic")
FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
)


# --- settings ---------------------------------------------------------------------------------------------------


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
            p.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, p)


def configure_settings(ctx):
    from ultralytics import settings
    from ultralytics.utils import USER_CONFIG_DIR

    install_font(ctx, Path(USER_CONFIG_DIR))
    work = Path(ctx.spec["work_dir"])
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
    if not path.exists() and isinstance(results, dict) and results:
        rows = [{k: "%.6g" % float(v) for k, v in zip(results, row)} for row in zip(*results.values())]
        write_results(path, rows, fields=list(results))  # %.6g, as Ultralytics writes the rows it appends


# --- best epoch --------------------------------------------------------------------------------------------------


def best_epoch_from(best_pt, rows, fallback):
    """The epoch whose weights best.pt holds, as Ultralytics recorded it, and that epoch's results.csv row.

    best.pt carries `train_metrics` (the validation metrics it was saved with, plus fitness) and, once final_eval
    has stripped it, no epoch; so the epoch is the results.csv row with exactly those metrics (the later one when
    several match: Ultralytics rewrites best.pt on a tie). Nothing here re-derives fitness, so a change in how
    Ultralytics ranks epochs cannot drift from what the trainer reports."""
    saved = {}
    try:
        from ultralytics.utils.patches import torch_load

        ckpt = torch_load(str(best_pt), map_location="cpu") if best_pt and Path(best_pt).exists() else {}
        saved = numbers((ckpt or {}).get("train_metrics") if isinstance(ckpt, dict) else {})
    except Exception as e:  # noqa: BLE001 - an unreadable best.pt falls back, and the upload step reports it
        log(f"cannot read train_metrics from {best_pt}: {type(e).__name__}: {e}")
    saved.pop("fitness", None)
    best = None
    for row in rows:
        values = numbers(row)
        epoch = values.get("epoch")
        shared = [k for k in saved if k in values]
        # results.csv holds %.6g text; the checkpoint holds the floats it was printed from.
        if epoch is not None and shared and all(math.isclose(values[k], saved[k], rel_tol=2e-5, abs_tol=1e-9) for k in shared):
            best = (int(epoch), values)
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
        for event, fn in (
            ("on_pretrain_routine_end", lambda _trainer: use_cpu_threads()),  # after select_device(), which resets it
            ("on_train_start", self.on_train_start),
            ("on_train_epoch_start", self.on_train_epoch_start),
            ("on_train_batch_end", self.on_train_batch_end),
            ("on_model_save", self.on_model_save),
            ("on_fit_epoch_end", self.on_fit_epoch_end),
        ):
            model.add_callback(event, safe(fn, event))
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
    # Under our torchrun (LOCAL_RANK set) Ultralytics trains DDP in this process; only rank 0 writes the results and
    # reports, so the other ranks are done here.
    model.train(**kwargs)
    if not ctx.is_rank0:
        return

    trainer = model.trainer
    save_dir = Path(trainer.save_dir)
    last_sent = hooks.last_epoch_sent
    fallback = (last_sent, hooks.epoch_metrics.get(last_sent, {}))
    best_epoch, final_metrics = best_epoch_from(trainer.best, read_results(save_dir / "results.csv"), fallback)
    ctx.train_end(
        best_epoch,
        final_metrics,
        save_dir,
        best=trainer.best if Path(trainer.best).exists() else None,
        last=trainer.last if Path(trainer.last).exists() else None,
    )


if __name__ == "__main__":
    run(train)
