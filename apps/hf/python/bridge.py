"""hf bridge: trains one job for trainer-hf with `transformers.Trainer` on the shared runtime (CONTRACT section 8).

The runtime (`trainer_bridge`) does the protocol: --spec, events, the SIGTERM flag, atomic checkpoint copies, exit
codes. This file is the framework's side:

- the model: AutoModelForImageClassification / AutoModelForObjectDetection.from_pretrained(spec.model) with the
  dataset's id2label/label2id and ignore_mismatched_sizes (a pretrained head of another size is replaced);
- the image processor: AutoImageProcessor from the same model (imgsz, when set, overrides its size);
- TrainingArguments: the validated config (its real names) plus what the trainer owns (epoch evaluation and
  saving, best by the primary metric, no integrations);
- BridgeCallback: one epoch_end per epoch with the evaluation metrics, last.tar/best.tar once a checkpoint folder is
  complete, and the stop flag at on_step_end (should_save + should_training_stop: the Trainer writes a resumable
  checkpoint at that step and returns).
- Under torchrun (the trainer starts it for nproc_per_node > 1 or several GPUs) the Trainer runs DDP itself; the
  bridge joins the process group first, so that one rank per node unpacks a resume while the others wait, every rank
  agrees on a stop at the same step, and only rank 0 writes the run's files.

The spec adds to the common part (task, run_dir, resume, dataset): `model` (a hub id or a local folder),
`train_args` (TrainingArguments keywords), `hflip`, `imgsz`, `metric_for_best_model`, `greater_is_better`, `device`.
"""

import json
import math
import os
import sys
import time
from pathlib import Path

from trainer_bridge import ModelUnavailableError, World, read_results, run, safe, write_results

sys.path.insert(0, str(Path(__file__).resolve().parent))

import hf_checkpoints  # noqa: E402
import hf_data  # noqa: E402
import hf_metrics  # noqa: E402


def select_device(device):
    """`cuda:N`, `N` or `N,M` pick GPUs before CUDA starts; `cpu` is TrainingArguments' use_cpu."""
    text = str(device)
    if text.startswith("cuda:"):
        os.environ["CUDA_VISIBLE_DEVICES"] = text.split(":", 1)[1]
    elif text.replace(",", "").isdigit():
        os.environ["CUDA_VISIBLE_DEVICES"] = text
    return text == "cpu"


def load_processor(model, imgsz):
    from transformers import AutoImageProcessor

    try:
        processor = AutoImageProcessor.from_pretrained(model)
    except (OSError, ValueError) as e:
        raise ModelUnavailableError(f"{model}: no image processor (preprocessor_config.json) can be loaded: {e}") from e
    if imgsz:
        h, w = (imgsz, imgsz) if isinstance(imgsz, int) else imgsz
        overrides = {"size": {"height": h, "width": w}}
        if getattr(processor, "crop_size", None):
            overrides["crop_size"] = {"height": h, "width": w}
        processor = AutoImageProcessor.from_pretrained(model, **overrides)
    return processor


def load_model(model, task, classes):
    from transformers import AutoModelForImageClassification, AutoModelForObjectDetection

    auto = AutoModelForImageClassification if task == "classify" else AutoModelForObjectDetection
    id2label = {i: name for i, name in enumerate(classes)}
    try:
        return auto.from_pretrained(
            model, num_labels=len(classes), id2label=id2label, label2id={n: i for i, n in id2label.items()}, ignore_mismatched_sizes=True
        )
    except (ValueError, KeyError) as e:
        raise ModelUnavailableError(f"{model}: cannot be loaded as {auto.__name__}: {e}") from e


def classify_metrics(eval_pred):
    logits = eval_pred.predictions[0] if isinstance(eval_pred.predictions, tuple) else eval_pred.predictions
    return hf_metrics.topk_accuracy(logits, eval_pred.label_ids)


class DetectMetrics:
    """compute_metrics for detection: the predictions of each batch (eval_do_concat_batches=False, one
    `logits_and_boxes` tensor) through the processor's post_process_object_detection, into COCO results, scored
    against the val split's own COCO file."""

    def __init__(self, processor, gt):
        self.processor = processor
        self.gt = gt

    def __call__(self, eval_pred):
        import numpy as np
        import torch
        from transformers.utils import ModelOutput

        detections = []
        for preds, labels in zip(eval_pred.predictions, eval_pred.label_ids):
            # Gathered as objects (DDP), a batch is a list of per-image rows.
            preds = np.stack(preds) if isinstance(preds, (list, tuple)) else preds
            logits, boxes = preds[..., :-4], preds[..., -4:]
            sizes = torch.tensor([list(map(int, lab["orig_size"])) for lab in labels])
            output = ModelOutput(logits=torch.as_tensor(logits), pred_boxes=torch.as_tensor(boxes))
            results = self.processor.post_process_object_detection(output, threshold=0.0, target_sizes=sizes)
            for lab, res in zip(labels, results):
                image_id = int(lab["image_id"].item() if hasattr(lab["image_id"], "item") else lab["image_id"])
                for score, label, box in zip(res["scores"].tolist(), res["labels"].tolist(), res["boxes"].tolist()):
                    x0, y0, x1, y1 = box
                    detections.append({"image_id": image_id, "category_id": int(label), "bbox": [x0, y0, x1 - x0, y1 - y0], "score": float(score)})
        return hf_metrics.coco_metrics(self.gt, detections)


def logits_and_boxes(outputs, _labels):
    """preprocess_logits_for_metrics for detection: one [B, Q, C + 4] tensor per batch. Under DDP the batches are
    gathered as objects (eval_use_gather_object), image by image; the model's output tuple would come back with
    each rank's parts after the other's."""
    import torch

    return torch.cat(_logits_and_boxes(outputs), dim=-1)


def _logits_and_boxes(preds):
    """The model output as a tuple (loss_dict, logits, pred_boxes, ...): pred_boxes is the first [B, Q, 4] array, the
    logits the [B, Q, C] array just before it."""
    arrays = [p for p in preds if hasattr(p, "ndim")] if isinstance(preds, (tuple, list)) else [preds]
    for i, a in enumerate(arrays):
        if a.ndim == 3 and a.shape[-1] == 4 and i > 0 and arrays[i - 1].ndim == 3:
            return arrays[i - 1], a
    raise RuntimeError(f"cannot find logits and pred_boxes in the model's outputs (shapes {[getattr(a, 'shape', None) for a in arrays]})")


def canonical_to_trainer(name):
    """primary_metric (canonical) → the Trainer's metric_for_best_model (without its eval_ prefix)."""
    return {"val_loss": "loss"}.get(name, name)


def bridge_trainer():
    import functools

    from transformers import Trainer

    class BridgeTrainer(Trainer):
        def evaluation_loop(self, *args, **kwargs):
            # transformers 5.18 resets gather_function to a bare gather_for_metrics when an evaluation ends: from the
            # second evaluation on, eval_use_gather_object would be lost.
            self.gather_function = functools.partial(self.accelerator.gather_for_metrics, use_gather_object=self.args.eval_use_gather_object)
            return super().evaluation_loop(*args, **kwargs)

    return BridgeTrainer


def make_callback(ctx, world, run_dir, output_dir, epochs, history):
    from transformers import TrainerCallback

    weights = run_dir / "weights"
    results = run_dir / "results.csv"

    class BridgeCallback(TrainerCallback):
        def __init__(self):
            self.train_logs = {}
            self.eval_metrics = None
            self.epoch_started = None
            self.stopped_mid_epoch = False
            self.best_epoch = history[-1]["best_epoch"] if history and "best_epoch" in history[-1] else 0

        def on_train_begin(self, args, state, control, **kwargs):
            ctx.train_start(epochs=epochs, start_epoch=int(state.epoch or 0), save_dir=run_dir)

        def on_epoch_begin(self, args, state, control, **kwargs):
            self.epoch_started = time.monotonic()

        def on_step_end(self, args, state, control, **kwargs):
            ctx.heartbeat(state.global_step)
            # Agreed by all ranks (one all_reduce of a flag per step): a save or an evaluation that only some ranks
            # enter waits forever in its collectives.
            if ctx.any_rank_stopped(world):
                control.should_training_stop = True
                # Mid-epoch: a resumable checkpoint at this step, then train() returns; the runtime exits 143. At an
                # epoch's last step the epoch's own evaluation and save follow instead: a checkpoint saved here
                # would resume after an epoch that was never evaluated or reported.
                if abs((state.epoch or 0) - round(state.epoch or 0)) > 1e-6:
                    self.stopped_mid_epoch = True
                    control.should_save = True

        def on_epoch_end(self, args, state, control, **kwargs):
            if self.stopped_mid_epoch:
                # Saved at the stopping step already; an evaluation now would only delay the exit.
                control.should_evaluate = False
                control.should_save = False
                control.should_log = False
            elif ctx.any_rank_stopped(world):
                # The epoch is whole: it is evaluated, saved and reported, then training stops.
                control.should_training_stop = True

        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs and "loss" in logs and not any(k.startswith("eval_") for k in logs):
                self.train_logs = dict(logs)

        def on_evaluate(self, args, state, control, metrics=None, **kwargs):
            self.eval_metrics = dict(metrics or {})

        def on_save(self, args, state, control, **kwargs):
            # Every rank writes its own rng_state_<rank>.pth into the folder: rank 0 packs it once all have.
            world.barrier()
            if ctx.is_rank0:
                safe(self._published, "on_save")(state)

        def _published(self, state):
            folder = output_dir / f"checkpoint-{state.global_step}"
            if not folder.is_dir():
                return
            epoch = math.ceil(round(state.epoch or 0, 6))
            is_best = self.eval_metrics is not None and state.best_global_step == state.global_step
            metrics = None
            if self.eval_metrics is not None:
                metrics = {**{k: float(v) for k, v in self.train_logs.items() if k != "epoch"}, **{k: float(v) for k, v in self.eval_metrics.items() if k != "epoch"}}
                if is_best:
                    self.best_epoch = epoch
                history.append({"epoch": epoch, **metrics, "best_epoch": self.best_epoch})
                write_results(results, history)
            best_folder = Path(state.best_model_checkpoint) if state.best_model_checkpoint else None
            last = hf_checkpoints.pack_last(folder, weights / "last.tar", best_folder=best_folder, extra=[results])
            ctx.checkpoint("last", last, epoch)
            if is_best and metrics is not None:
                ctx.checkpoint("best", hf_checkpoints.pack_best(folder, weights / "best.tar"), epoch)
            if metrics is not None:
                lr = {"lr": self.train_logs["learning_rate"]} if "learning_rate" in self.train_logs else None
                took = time.monotonic() - self.epoch_started if self.epoch_started else None
                ctx.epoch_end(epoch, metrics, lr=lr, epoch_time=took, epochs=epochs)
            self.eval_metrics = None

    return BridgeCallback()


def train(ctx):
    spec, task = ctx.spec, ctx.spec["task"]
    use_cpu = select_device(spec.get("device", "auto"))
    # CUDA reads CUDA_VISIBLE_DEVICES when it starts, at the first CUDA call, not at `import torch` (which the
    # trainer has this process do ahead, while it stages the dataset).
    import torch
    from transformers import TrainingArguments

    # The Trainer (accelerate) reuses a process group that exists; a gloo one on the CPU.
    world = World()
    if world.distributed:
        world.start("cuda" if not use_cpu and torch.cuda.is_available() else "cpu")
        ctx.log(f"DDP rank {world.rank} of {world.size} ({world.backend})")

    dataset = spec["dataset"]
    classes = dataset["classes"]
    run_dir = Path(spec["run_dir"])
    output_dir = run_dir / "checkpoints"
    (run_dir / "weights").mkdir(parents=True, exist_ok=True)
    train_args = dict(spec["train_args"])
    epochs = int(train_args["num_train_epochs"])
    seed = int(train_args.get("seed", 42))

    resume_from = None
    if spec.get("resume"):
        # The ranks of a node share its work dir: one unpacks, the others wait, then all resume from the same folder.
        if world.local_rank == 0:
            resume_from = hf_checkpoints.unpack_last(spec["resume"], output_dir, run_dir)
            if resume_from is not None:
                _rebase_state(resume_from, output_dir)
        world.barrier()
        resume_from = hf_checkpoints.resumable(output_dir)
        if ctx.is_rank0:
            ctx.log(f"resuming from {resume_from.name}" if resume_from else f"{spec['resume']} holds no Trainer checkpoint; training starts from the beginning")
    history = read_results(run_dir / "results.csv") if resume_from else []

    processor = load_processor(spec["model"], spec.get("imgsz"))
    model = load_model(spec["model"], task, classes)
    hflip = float(spec.get("hflip", 0.0))
    if task == "classify":
        folders = dataset["image_folder"]
        train_set = hf_data.ImageFolderSet(folders["train"], classes, hflip=hflip, seed=seed)
        val_set = hf_data.ImageFolderSet(folders["val"], classes)
        collator = hf_data.ClassifyCollator(processor)
        compute_metrics = classify_metrics
    else:
        gt = hf_data.read_coco(dataset["coco"]["val"])
        train_set = hf_data.CocoSet(hf_data.read_coco(dataset["coco"]["train"]), hflip=hflip, seed=seed)
        val_set = hf_data.CocoSet(gt)
        collator = hf_data.DetectCollator(processor)
        compute_metrics = DetectMetrics(processor, gt)
    if len(train_set) == 0 or len(val_set) == 0:
        raise ValueError(f"dataset: {len(train_set)} train / {len(val_set)} val images; both splits need images")
    if ctx.is_rank0:
        ctx.log(f"dataset: {len(train_set)} train / {len(val_set)} val images, {len(classes)} classes")
    batch = int(train_args["per_device_train_batch_size"])
    if len(train_set) > batch and len(train_set) % batch == 1 and not train_args.get("dataloader_drop_last"):
        # A last batch of one image breaks BatchNorm in training (most vision backbones have it).
        ctx.log(f"{len(train_set)} train images at batch {batch} leave a last batch of 1: it is dropped each epoch")
        train_args["dataloader_drop_last"] = True
        # drop_last applies to evaluation too: an eval batch that divides the val split keeps every val image.
        eval_batch = int(train_args.get("per_device_eval_batch_size", batch))
        train_args["per_device_eval_batch_size"] = max(d for d in range(1, eval_batch + 1) if len(val_set) % d == 0)

    args = TrainingArguments(
        output_dir=str(output_dir),
        eval_strategy="epoch",
        save_strategy="epoch",
        logging_strategy="epoch",
        save_total_limit=2,
        metric_for_best_model=spec["metric_for_best_model"],
        greater_is_better=spec["greater_is_better"],
        report_to="none",
        remove_unused_columns=False,
        eval_do_concat_batches=task != "detect",
        # Detection labels (a dict per image, boxes of any count) gathered as tensors would be merged leaf by leaf.
        eval_use_gather_object=task == "detect" and world.distributed,
        disable_tqdm=True,
        use_cpu=use_cpu,
        **train_args,
    )
    if ctx.is_rank0:
        (run_dir / "args.json").write_text(json.dumps({"model": spec["model"], "task": task, **train_args}, indent=2, default=str), encoding="utf-8")
    trainer = bridge_trainer()(
        model=model,
        args=args,
        train_dataset=train_set,
        eval_dataset=val_set,
        data_collator=collator,
        processing_class=processor,
        compute_metrics=compute_metrics,
        preprocess_logits_for_metrics=logits_and_boxes if task == "detect" else None,
        callbacks=[make_callback(ctx, world, run_dir, output_dir, epochs, history)],
    )
    ctx.raise_if_stopped()
    trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)
    if ctx.should_stop():
        return
    if ctx.is_rank0:
        _report_end(ctx, trainer, history, run_dir)


def _report_end(ctx, trainer, history, run_dir):
    best_epoch = max((h.get("best_epoch", 0) for h in history), default=0)
    best_row = next((h for h in history if h["epoch"] == best_epoch), history[-1] if history else {})
    best_tar = run_dir / "weights" / "best.tar"
    if not best_tar.is_file() and trainer.state.best_model_checkpoint:
        hf_checkpoints.pack_best(trainer.state.best_model_checkpoint, best_tar)
    final = {k: v for k, v in best_row.items() if k not in ("epoch", "best_epoch")}
    ctx.train_end(best_epoch or len(history), final, run_dir, best=best_tar, last=run_dir / "weights" / "last.tar")


def _rebase_state(checkpoint, output_dir):
    """trainer_state.json names the best checkpoint by its absolute path in the earlier work dir."""
    state_path = checkpoint / "trainer_state.json"
    state = json.loads(state_path.read_text(encoding="utf-8"))
    best = state.get("best_model_checkpoint")
    if best:
        state["best_model_checkpoint"] = str(output_dir / Path(best).name)
        state_path.write_text(json.dumps(state, indent=2), encoding="utf-8")


if __name__ == "__main__":
    run(train)
