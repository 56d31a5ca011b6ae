"""hf bridge: trains one job for trainer-hf on the shared runtime (CONTRACT section 8).

The runtime (`trainer_bridge`, from libs/trainer-contract/python; the build copies it to dist/python/) does the
protocol: it reads --spec, writes the events, turns SIGTERM into a stop flag, publishes checkpoints atomically and
maps exceptions to exit codes. This file is only the framework's side. It reports through `ctx`:

  ctx.spec                          the job (below)
  ctx.train_start(epochs, start_epoch, save_dir)
  ctx.raise_if_stopped()            at every step boundary: after SIGTERM it stops the job there (exit 143)
  ctx.heartbeat(step)               every step too; the runtime sends one at most every 30 s
  ctx.checkpoint("last"|"best", path, epoch)   once the framework has finished writing `path`
  ctx.epoch_end(epoch, metrics, lr=..., epoch_time=...)   once per epoch, 1-based, the framework's raw keys
  ctx.train_end(best_epoch, final_metrics, save_dir, best=..., last=...)
  raise ModelUnavailableError(...)  for weights the framework cannot load (exit 3, not retried)

The spec: `task`, `run_dir` (weights/, results.csv), `resume` (a last.pt from an earlier attempt, or null), `dataset`
({format, root, data_yaml, coco, image_folder, classes}: the layout src/driver.ts asked for), and what src/driver.ts
adds in buildSpec: `model` (a name or an absolute weights path) and `train_args` (the validated config).

Everything marked STAND-IN is a trivial loop that lets this scaffold train end to end on the standard library alone.
Replace it with the framework: build the model, point its data loader at the dataset, run its training loop and call
the ctx methods from its callbacks (wrap your own hook code in `safe(fn, name)` so a bug in it never stops training).
"""

import csv
import json
import os
import random
import time
from pathlib import Path

from trainer_bridge import ModelUnavailableError, run

IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
CHECKPOINT_FORMAT = "hf-standin-v1"


# --- dataset: STAND-IN for the framework's data loader ------------------------------------------------------------


def count_images(dataset):
    """Only counts the samples per split, in whichever layout the driver asked for (src/driver.ts datasetFormat)."""
    if dataset["format"] == "imagefolder":
        return {s: sum(1 for p in Path(dataset["image_folder"][s]).rglob("*") if p.suffix.lower() in IMAGE_EXTS) for s in ("train", "val")}
    if dataset["format"] == "coco":
        return {s: len(json.loads(Path(dataset["coco"][s]).read_text(encoding="utf-8"))["images"]) for s in ("train", "val")}
    root = Path(dataset["root"])
    entries = dict(line.split(":", 1) for line in Path(dataset["data_yaml"]).read_text(encoding="utf-8").splitlines() if ":" in line)
    counts = {}
    for split in ("train", "val"):
        target = root / entries.get(split, f"images/{split}").strip().strip("\"'")
        if target.suffix == ".txt":
            counts[split] = sum(1 for line in target.read_text(encoding="utf-8").splitlines() if line.strip())
        else:
            counts[split] = sum(1 for p in target.rglob("*") if p.suffix.lower() in IMAGE_EXTS)
    return counts


# --- model: STAND-IN for the framework's -------------------------------------------------------------------------


class StandInModel:
    """One weight fit by SGD to y = 2x on synthetic points. Its losses really fall, and lr and weight_decay really
    matter, but it never looks at the images: it only stands where the framework's model goes."""

    def __init__(self, seed):
        self.rng = random.Random(seed)
        self.w = self.rng.uniform(-1.0, 1.0)
        self.velocity = 0.0

    def train_step(self, lr, weight_decay, batch):
        xs = [self.rng.uniform(-1.0, 1.0) for _ in range(batch)]
        grad = sum(2 * (self.w * x - 2 * x) * x for x in xs) / batch + weight_decay * self.w
        self.velocity = 0.9 * self.velocity - lr * grad
        self.w += self.velocity
        return sum((self.w * x - 2 * x) ** 2 for x in xs) / batch

    def evaluate(self, task):
        loss = (self.w - 2) ** 2 / 3 + 1e-3
        quality = 1 / (1 + 10 * loss)
        if task == "classify":
            return {"val/loss": loss, "val/acc1": quality, "val/acc5": min(1.0, quality * 1.5)}
        return {"val/loss": loss, "val/precision": quality, "val/recall": quality * 0.95, "val/map50": quality * 0.9, "val/map": quality * 0.6}

    def state(self, with_optimizer):
        return {"w": self.w, "optimizer": {"velocity": self.velocity, "rng": self.rng.getstate()} if with_optimizer else None}

    def load(self, state):
        self.w = float(state["w"])
        if state.get("optimizer"):
            self.velocity = float(state["optimizer"]["velocity"])
            version, internal, gauss = state["optimizer"]["rng"]
            self.rng.setstate((version, tuple(internal), gauss))


def fitness(task, metrics):
    """The number best.pt is chosen by; it must match the driver's default primary metric."""
    return metrics.get("val/acc1" if task == "classify" else "val/map", 0.0)


def load_checkpoint(path):
    """A framework raises ModelUnavailableError for weights it cannot load: a user error, not a retryable failure."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ModelUnavailableError(f"cannot load {path}: {type(e).__name__}: {e}") from e
    if not isinstance(data, dict) or data.get("format") != CHECKPOINT_FORMAT:
        raise ModelUnavailableError(f"cannot load {path}: not a hf checkpoint")
    return data


def write_results(path, history):
    """One row per epoch, resumed ones too: the run's record, uploaded and logged to MLflow."""
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(dict.fromkeys(k for row in history for k in row)))
        writer.writeheader()
        writer.writerows(history)


# --- the training loop: STAND-IN for the framework's -------------------------------------------------------------


def train(ctx):
    spec, task = ctx.spec, ctx.spec["task"]
    args = spec["train_args"]
    epochs, batch = int(args["epochs"]), int(args["batch"])
    run_dir = Path(spec["run_dir"])
    weights = run_dir / "weights"
    weights.mkdir(parents=True, exist_ok=True)
    (run_dir / "args.json").write_text(json.dumps({**args, "model": spec["model"], "task": task}, indent=2), encoding="utf-8")

    counts = count_images(spec["dataset"])
    if counts["train"] == 0:
        raise ValueError(f"no training images in {spec['dataset']['root']}")
    ctx.log(f"dataset: {counts['train']} train / {counts['val']} val images, {len(spec['dataset']['classes'])} classes")

    model = StandInModel(int(args["seed"]))
    if "/" in spec["model"] or spec["model"].endswith(".pt"):  # weights to start from (local, or s3:// fetched first)
        model.load({**load_checkpoint(spec["model"]), "optimizer": None})
    start, best_epoch, best_fit, history = 0, 0, None, []
    if spec["resume"]:
        ckpt = load_checkpoint(spec["resume"])
        if ckpt.get("optimizer") is not None and int(ckpt["epoch"]) < epochs:
            model.load(ckpt)
            start, best_epoch, best_fit, history = int(ckpt["epoch"]), int(ckpt["best_epoch"]), ckpt["best_fitness"], ckpt["history"]
        else:
            ctx.log(f"{spec['resume']} is a finished checkpoint; training starts from the beginning")

    ctx.train_start(epochs=epochs, start_epoch=start, save_dir=run_dir)
    steps = max(1, -(-counts["train"] // batch))
    step_delay = float(os.environ.get("STANDIN_STEP_SECONDS", "0"))  # STAND-IN: lets tests stop it mid-epoch
    for epoch in range(start + 1, epochs + 1):
        started = time.monotonic()
        lr = args["lr"] * (1 - 0.9 * (epoch - 1) / max(1, epochs))
        loss = 0.0
        for step in range(steps):
            ctx.raise_if_stopped()
            ctx.heartbeat(step)
            loss += model.train_step(lr, args["weight_decay"], batch)
            time.sleep(step_delay)
        metrics = {"train/loss": loss / steps, **model.evaluate(task)}
        history.append({"epoch": epoch, **metrics})
        write_results(run_dir / "results.csv", history)
        fit = fitness(task, metrics)
        improved = best_fit is None or fit >= best_fit
        if improved:
            best_epoch, best_fit = epoch, fit
        state = {"format": CHECKPOINT_FORMAT, "epoch": epoch, **model.state(True), "best_epoch": best_epoch, "best_fitness": best_fit, "history": history}
        (weights / "last.pt").write_text(json.dumps(state), encoding="utf-8")
        ctx.checkpoint("last", weights / "last.pt", epoch)
        if improved:
            # best.pt is a finished model: no optimizer state, so it is never mistaken for a resumable checkpoint.
            (weights / "best.pt").write_text(json.dumps({**state, "optimizer": None}), encoding="utf-8")
            ctx.checkpoint("best", weights / "best.pt", epoch)
        ctx.epoch_end(epoch, metrics, lr={"lr/pg0": lr}, epoch_time=time.monotonic() - started, epochs=epochs)

    best = next((h for h in history if h["epoch"] == best_epoch), {})
    ctx.train_end(best_epoch, {k: v for k, v in best.items() if k != "epoch"}, run_dir, best=weights / "best.pt", last=weights / "last.pt")


if __name__ == "__main__":
    run(train)
