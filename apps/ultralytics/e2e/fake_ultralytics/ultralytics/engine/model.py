"""TEST DOUBLE of ultralytics.YOLO: model-name handling, callbacks, train() and resume like Ultralytics 8.4.190."""

import os
import pickle
import re
from pathlib import Path

from ultralytics.engine.trainer import BaseTrainer
from ultralytics.utils import LOGGER

# Names the real library knows how to build (cfg/models) or download (GitHub release assets).
_FAMILY = r"(yolov3|yolov5|yolov6|yolov8|yolov9|yolov10|yolo11|yolo12|rtdetr)"
_YAML = re.compile(_FAMILY + r"[nsmlxtcebu]?(-(seg|cls|pose|obb|world|worldv2|p2|p6|ghost))*\.ya?ml$")
_ASSET = re.compile(_FAMILY + r"[nsmlxtcebu]u?(-(seg|cls|pose|obb|world|worldv2|oiv7))?\.pt$")
TASKS = {"detect", "segment", "classify", "pose", "obb"}


def guess_model_task(name):
    stem = Path(str(name)).stem
    for suffix, task in (("-seg", "segment"), ("-cls", "classify"), ("-pose", "pose"), ("-obb", "obb")):
        if suffix in stem:
            return task
    return "detect"


class YOLO:
    def __init__(self, model="yolo11n.pt", task=None, verbose=False):
        self.callbacks = {}
        self.trainer = None
        self.ckpt = None
        self.ckpt_path = None
        self.metrics = None
        model = str(model).strip()
        if task is not None and task not in TASKS:
            raise ValueError(f"Invalid task '{task}'. Valid tasks are {sorted(TASKS)}")
        suffix = Path(model).suffix
        if suffix in (".yaml", ".yml"):
            if not Path(model).is_file() and not _YAML.search(Path(model).name):
                raise FileNotFoundError(f"'{model}' does not exist")
            self.task = task or guess_model_task(model)
            self.overrides = {"model": model, "task": self.task}
        elif suffix == ".pt":
            path = Path(model)
            if not path.is_file():
                if os.environ.get("FAKE_ULTRALYTICS_NO_DOWNLOADS") or not _ASSET.search(path.name):
                    raise FileNotFoundError(f"'{model}' does not exist")
                LOGGER.info(f"Downloading https://github.com/ultralytics/assets/releases/download/v8.3.0/{path.name} (fake)")
                self.ckpt = {"train_args": {"task": guess_model_task(model)}, "fake_pretrained": path.name}
            else:
                with open(path, "rb") as f:
                    self.ckpt = pickle.load(f)  # a truncated or foreign file raises here
                self.ckpt_path = str(path)
            args = self.ckpt.get("train_args") or {}
            self.task = task or args.get("task") or guess_model_task(model)
            self.overrides = {k: args[k] for k in ("imgsz", "data", "task", "single_cls") if k in args}
            self.overrides.update(model=model, task=self.task)
        else:
            raise FileNotFoundError(f"'{model}' does not exist")

    def add_callback(self, event, func):
        self.callbacks.setdefault(event, []).append(func)

    def clear_callback(self, event):
        self.callbacks[event] = []

    def train(self, trainer=None, **kwargs):
        overrides = self.overrides
        custom = {"data": overrides.get("data") or "coco8.yaml", "model": overrides["model"], "task": self.task}
        args = {**overrides, **custom, **kwargs, "mode": "train"}
        if args.get("resume"):
            args["resume"] = self.ckpt_path
        self.trainer = (trainer or BaseTrainer)(overrides=args, _callbacks=self.callbacks)
        self.trainer.hub_session = None
        self.trainer.train()
        self.metrics = getattr(self.trainer.validator, "metrics", None)
        return self.metrics
