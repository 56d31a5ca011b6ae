"""TEST DOUBLE of ultralytics.engine.trainer.BaseTrainer: same callbacks, order, attributes, files, checkpoint layout
and failure modes as Ultralytics 8.4.190 (checked against e2e/golden/, recorded from it), with made-up numbers
instead of training."""

import math
import os
import pickle
import time
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace

from ultralytics import __version__
from ultralytics.utils import LOGGER, colorstr
from ultralytics.utils.checks import check_font

DEFAULT_CFG = {
    "task": "detect", "mode": "train", "model": None, "data": None, "epochs": 100, "time": None, "patience": 100,
    "batch": 16, "imgsz": 640, "save": True, "save_period": -1, "cache": False, "device": None, "workers": 8,
    "project": None, "name": None, "exist_ok": False, "pretrained": True, "optimizer": "auto", "verbose": True,
    "seed": 0, "deterministic": True, "single_cls": False, "rect": False, "cos_lr": False, "close_mosaic": 10,
    "resume": False, "amp": True, "fraction": 1.0, "profile": False, "freeze": None, "multi_scale": False,
    "overlap_mask": True, "mask_ratio": 4, "dropout": 0.0, "val": True, "split": "val", "save_json": False,
    "conf": None, "iou": 0.7, "max_det": 300, "half": False, "dnn": False, "plots": True, "source": None,
    "vid_stride": 1, "stream_buffer": False, "visualize": False, "augment": False, "agnostic_nms": False,
    "classes": None, "retina_masks": False, "embed": None, "show": False, "save_frames": False, "save_txt": False,
    "save_conf": False, "save_crop": False, "show_labels": True, "show_conf": True, "show_boxes": True,
    "line_width": None, "format": "torchscript", "keras": False, "optimize": False, "int8": False,
    "dynamic": False, "simplify": True, "opset": None, "workspace": None, "nms": False, "lr0": 0.01, "lrf": 0.01,
    "momentum": 0.937, "weight_decay": 0.0005, "warmup_epochs": 3.0, "warmup_momentum": 0.8,
    "warmup_bias_lr": 0.1, "box": 7.5, "cls": 0.5, "dfl": 1.5, "pose": 12.0, "kobj": 1.0, "nbs": 64,
    "hsv_h": 0.015, "hsv_s": 0.7, "hsv_v": 0.4, "degrees": 0.0, "translate": 0.1, "scale": 0.5, "shear": 0.0,
    "perspective": 0.0, "flipud": 0.0, "fliplr": 0.5, "bgr": 0.0, "mosaic": 1.0, "mixup": 0.0, "cutmix": 0.0,
    "copy_paste": 0.0, "copy_paste_mode": "flip", "auto_augment": "randaugment", "erasing": 0.4, "cfg": None,
    "tracker": "botsort.yaml",
}
FRACTION_KEYS = {
    "dropout", "lr0", "lrf", "momentum", "weight_decay", "warmup_momentum", "warmup_bias_lr", "hsv_h", "hsv_s",
    "hsv_v", "translate", "scale", "perspective", "flipud", "fliplr", "bgr", "mosaic", "mixup", "cutmix",
    "copy_paste", "conf", "iou", "fraction",
}
IMG_EXT = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".dng", ".mpo", ".heic"}
LOSS_NAMES = {
    "detect": ["box_loss", "cls_loss", "dfl_loss"],
    "obb": ["box_loss", "cls_loss", "dfl_loss", "angle_loss"],
    "segment": ["box_loss", "seg_loss", "cls_loss", "dfl_loss", "sem_loss"],
    "pose": ["box_loss", "pose_loss", "kobj_loss", "cls_loss", "dfl_loss"],
    "classify": ["loss"],
}
HEADS = {"detect": ["B"], "obb": ["B"], "segment": ["B", "M"], "pose": ["B", "P"]}


def check_cfg(cfg):
    for k, v in cfg.items():
        if k not in DEFAULT_CFG and k != "save_dir":  # save_dir is the one special key get_cfg keeps
            raise SyntaxError(f"'{k}' is not a valid YOLO argument.")
        if k in FRACTION_KEYS and v is not None:
            if not isinstance(v, (int, float)) or isinstance(v, bool):
                raise TypeError(f"'{k}={v}' is of invalid type {type(v).__name__}. Valid '{k}' types are float.")
            if not 0.0 <= v <= 1.0:
                raise ValueError(f"'{k}={v}' is an invalid value. Valid '{k}' values are between 0.0 and 1.0.")


def get_cfg(overrides):
    cfg = {**DEFAULT_CFG, **overrides}
    check_cfg(cfg)
    return SimpleNamespace(**cfg)


def get_save_dir(args):
    if getattr(args, "save_dir", None):
        return Path(args.save_dir)
    project = Path(args.project or Path("runs") / args.task)
    name = args.name or args.mode
    path = project / name
    if path.exists() and not args.exist_ok:
        n = 2
        while (project / f"{name}{n}").exists():
            n += 1
        path = project / f"{name}{n}"
    return path


def yaml_save(file, data):
    try:
        import yaml

        file.write_text(yaml.safe_dump({k: (str(v) if isinstance(v, Path) else v) for k, v in data.items()}, sort_keys=False))
    except ImportError:
        file.write_text("".join(f"{k}: {'null' if v is None else v}\n" for k, v in data.items()))


def yaml_load(file):
    text = Path(file).read_text()
    try:
        import yaml

        return yaml.safe_load(text) or {}
    except ImportError:  # a tiny subset: `key: value` and an indented `names:` map or a [a, b] list
        out, section = {}, None
        for raw in text.splitlines():
            line = raw.split(" #")[0].rstrip()
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            if raw[0] in " \t" and section is not None:
                k, _, v = line.strip().partition(":")
                out[section][int(k) if k.strip().isdigit() else k.strip()] = v.strip().strip("'\"")
                continue
            k, _, v = line.partition(":")
            v = v.strip()
            if not v:
                section, out[k.strip()] = k.strip(), {}
            elif v.startswith("["):
                out[k.strip()] = [x.strip().strip("'\"") for x in v.strip("[]").split(",") if x.strip()]
                section = None
            else:
                out[k.strip()] = v.strip("'\"")
                section = None
        return out


def count_images(source, root):
    paths = source if isinstance(source, list) else [source]
    n = 0
    for p in paths:
        p = Path(p)
        p = p if p.is_absolute() else root / p
        if p.is_dir():
            n += sum(1 for f in p.rglob("*") if f.suffix.lower() in IMG_EXT)
        elif p.is_file() and p.suffix == ".txt":
            n += sum(1 for line in p.read_text().splitlines() if line.strip())
        else:
            raise FileNotFoundError(f"Dataset images not found, missing path '{p}'")
    return n


class FakeTensor(list):
    """Enough of a 1-D tensor for loss bookkeeping (tolist, float(), shape)."""

    @property
    def shape(self):
        return (len(self),)

    def tolist(self):
        return list(self)

    def __float__(self):
        return float(self[0])


class OutOfMemoryError(RuntimeError):
    """Same class name as torch.cuda.OutOfMemoryError."""


class EarlyStopping:
    def __init__(self, patience=50):
        self.best_fitness = 0.0
        self.best_epoch = 0
        self.patience = patience or float("inf")
        self.possible_stop = False

    def __call__(self, epoch, fitness):
        if fitness is None:
            return False
        if fitness > self.best_fitness or self.best_fitness == 0:
            self.best_epoch = epoch
            self.best_fitness = fitness
        delta = epoch - self.best_epoch
        self.possible_stop = delta >= (self.patience - 1)
        stop = delta >= self.patience
        if stop:
            LOGGER.info(f"EarlyStopping: Training stopped early as no improvement observed in last {self.patience} epochs.")
        return stop


class Metrics(SimpleNamespace):
    """DetMetrics / SegmentMetrics / PoseMetrics / ClassifyMetrics lookalike."""

    @property
    def keys(self):
        return [k for k in self.results_dict if k != "fitness"]

    @property
    def fitness(self):
        return self.results_dict["fitness"]


METRIC_CLASS = {"detect": "DetMetrics", "obb": "OBBMetrics", "segment": "SegmentMetrics", "pose": "PoseMetrics", "classify": "ClassifyMetrics"}


def metric_keys(task):
    if task == "classify":
        return ["metrics/accuracy_top1", "metrics/accuracy_top5"]
    keys = []
    for h in HEADS[task]:
        keys += [f"metrics/precision({h})", f"metrics/recall({h})", f"metrics/mAP50({h})", f"metrics/mAP50-95({h})"]
    return keys


def quality(epoch):
    """A made-up score in [0, 1) for a 1-based epoch: rising, or peaking at FAKE_ULTRALYTICS_BEST_EPOCH."""
    peak = int(os.environ.get("FAKE_ULTRALYTICS_BEST_EPOCH", "0") or 0)
    if peak and epoch > peak:
        return max(0.0, quality(peak) - 0.05 * (epoch - peak))
    return epoch / (epoch + 3.0)


def fake_stats(task, epoch):
    q = quality(epoch)
    if task == "classify":
        stats = {"metrics/accuracy_top1": round(0.2 + 0.7 * q, 5), "metrics/accuracy_top5": round(0.6 + 0.4 * q, 5)}
        fitness = (stats["metrics/accuracy_top1"] + stats["metrics/accuracy_top5"]) / 2
    else:
        stats, fitness = {}, 0.0
        for i, h in enumerate(HEADS[task]):
            s = 1.0 - 0.1 * i
            m50, m = round(0.8 * q * s, 5), round(0.5 * q * s, 5)
            stats.update({
                f"metrics/precision({h})": round(0.3 + 0.6 * q * s, 5),
                f"metrics/recall({h})": round(0.2 + 0.6 * q * s, 5),
                f"metrics/mAP50({h})": m50,
                f"metrics/mAP50-95({h})": m,
            })
            fitness += 0.1 * m50 + 0.9 * m
    return stats, fitness


class Validator:
    def __init__(self, trainer):
        self.trainer = trainer
        self.metrics = None

    def __call__(self, trainer=None, model=None, epoch=None):
        t = self.trainer
        stats, fitness = fake_stats(t.args.task, epoch if epoch is not None else t.epoch + 1)
        self.metrics = Metrics(
            results_dict={**stats, "fitness": fitness},
            speed={"preprocess": 0.1, "inference": 1.0, "loss": 0.01, "postprocess": 0.2},
            task=t.args.task,
            kind=METRIC_CLASS[t.args.task],
        )
        if trainer is not None:  # during training the validator adds its own losses
            q = quality(t.epoch + 1)
            losses = FakeTensor(round(2.5 * (1 - q) + 0.3 + 0.1 * i, 5) for i in range(len(t.loss_names)))
            return {**stats, **t.label_loss_items(losses, prefix="val"), "fitness": fitness}
        return {**stats, "fitness": fitness}


class BaseTrainer:
    def __init__(self, cfg=None, overrides=None, _callbacks=None):
        self.args = get_cfg(overrides or {})
        self.check_resume(overrides or {})
        self.validator = None
        self.metrics = None
        self.plots = {}
        self.save_dir = get_save_dir(self.args)
        self.args.name = self.save_dir.name
        self.wdir = self.save_dir / "weights"
        self.wdir.mkdir(parents=True, exist_ok=True)
        self.args.save_dir = str(self.save_dir)
        yaml_save(self.save_dir / "args.yaml", vars(self.args))
        self.last, self.best = self.wdir / "last.pt", self.wdir / "best.pt"
        self.save_period = self.args.save_period
        self.batch_size = self.args.batch
        self.epochs = self.args.epochs or 100
        self.start_epoch = 0
        self.data = self.get_dataset()
        self.ema = None
        self.lf = None
        self.scheduler = None
        self.best_fitness = None
        self.fitness = None
        self.loss = None
        self.tloss = None
        self.loss_names = LOSS_NAMES[self.args.task]
        self.csv = self.save_dir / "results.csv"
        self.plot_idx = [0, 1, 2]
        self.hub_session = None
        self.callbacks = _callbacks or {}
        self.run_callbacks("on_pretrain_routine_start")

    # -- helpers -------------------------------------------------------------------------------------------------
    def add_callback(self, event, callback):
        self.callbacks.setdefault(event, []).append(callback)

    def run_callbacks(self, event):
        for callback in self.callbacks.get(event, []):
            callback(self)  # exceptions propagate, as in the real trainer

    def get_dataset(self):
        data = self.args.data
        if self.args.task == "classify":
            root = Path(str(data))
            if not root.is_dir():
                raise FileNotFoundError(f"Dataset '{data}' not found ⚠️, missing path {root}")
            train = root / "train"
            names = sorted(p.name for p in train.iterdir() if p.is_dir()) if train.is_dir() else []
            if not names:
                raise FileNotFoundError(f"Dataset '{data}' has no classes in {train}")
            self.n_train = count_images(train, root)
            return {"train": str(train), "val": str(root / "val"), "nc": len(names), "names": dict(enumerate(names))}
        path = Path(str(data))
        if path.suffix not in (".yaml", ".yml") or not path.is_file():
            raise FileNotFoundError(f"'{data}' does not exist")
        cfg = yaml_load(path)
        for k in ("train", "val"):
            if k not in cfg:
                raise SyntaxError(f"{data} '{k}:' key missing ❌.\n'train' and 'val' are required in all data YAMLs.")
        if "names" not in cfg and "nc" not in cfg:
            raise SyntaxError(f"{data} key missing ❌.\n either 'names' or 'nc' are required in all data YAMLs.")
        if self.args.task == "pose" and "kpt_shape" not in cfg:
            raise KeyError("'kpt_shape' missing from data.yaml")
        root = Path(cfg.get("path") or path.parent)
        self.n_train = count_images(cfg["train"], root)
        count_images(cfg["val"], root)
        check_font("Arial.ttf" if isinstance(cfg.get("names"), (dict, list)) else "Arial.Unicode.ttf")
        return cfg

    def label_loss_items(self, loss_items=None, prefix="train"):
        keys = [f"{prefix}/{x}" for x in self.loss_names]
        if loss_items is None:
            return keys
        if self.args.task == "classify":
            return {keys[0]: round(float(loss_items), 5)}
        return dict(zip(keys, [round(float(x), 5) for x in loss_items]))

    def check_resume(self, overrides):
        resume = self.args.resume
        if resume:
            try:
                last = Path(resume)
                with open(last, "rb") as f:
                    ckpt_args = dict(pickle.load(f)["train_args"])
                if not isinstance(ckpt_args.get("data"), dict) and not Path(str(ckpt_args.get("data"))).exists():
                    ckpt_args["data"] = self.args.data
                resume = True
                self.args = get_cfg(ckpt_args)
                self.args.model = self.args.resume = str(last)
                for k in ("imgsz", "batch", "device", "close_mosaic"):
                    if k in overrides:
                        setattr(self.args, k, overrides[k])
            except Exception as e:
                raise FileNotFoundError(
                    "Resume checkpoint not found. Please pass a valid checkpoint to resume from, "
                    "i.e. 'yolo train resume model=path/to/last.pt'"
                ) from e
        self.resume = resume

    def resume_training(self, ckpt):
        if ckpt is None or not self.resume:
            return
        start_epoch = ckpt.get("epoch", -1) + 1
        assert 0 < start_epoch < self.epochs, (
            f"{self.args.model} training to {self.epochs} epochs is finished, nothing to resume.\n"
            f"Start a new training without resuming, i.e. 'yolo train model={self.args.model}'"
        )
        LOGGER.info(f"Resuming training {self.args.model} from epoch {start_epoch + 1} to {self.epochs} total epochs")
        self.best_fitness = ckpt.get("best_fitness")
        self.stopper.__dict__.update(ckpt.get("stopper") or {})
        self.start_epoch = start_epoch

    # -- training ------------------------------------------------------------------------------------------------
    def train(self):
        device = str(self.args.device or "")
        if device not in ("", "cpu", "None") and not device.startswith("cpu"):
            raise ValueError(
                f"Invalid CUDA 'device={device}' requested. Use 'device=cpu' or pass valid CUDA device(s) if available."
            )
        self._do_train()

    def _setup_train(self):
        batch = self.batch_size if isinstance(self.batch_size, int) and self.batch_size > 0 else 16
        nb = int(os.environ.get("FAKE_ULTRALYTICS_BATCHES", "0") or 0) or max(1, math.ceil(self.n_train / batch))
        self.train_loader = SimpleNamespace(num_workers=0, __len__=None, nb=nb)
        self.test_loader = SimpleNamespace(num_workers=0)
        self.model = SimpleNamespace(names=self.data.get("names"), nc=self.data.get("nc"), args=vars(self.args))
        self.ema = SimpleNamespace(ema=self.model, updates=0)
        self.optimizer = SimpleNamespace(param_groups=[{"lr": 0.0, "initial_lr": self.args.lr0} for _ in range(3)])
        self.scaler = None
        self.accumulate = max(round(self.args.nbs / batch), 1)
        self.amp = bool(self.args.amp)
        self.freeze_layer_names = [".dfl"]
        self.stride = 32
        self.stopper, self.stop = EarlyStopping(patience=self.args.patience), False
        ckpt = None
        if self.resume:
            with open(self.args.resume, "rb") as f:
                ckpt = pickle.load(f)
        self.resume_training(ckpt)
        self.validator = Validator(self)
        # 8.4 learns the loss names on the first batch and only then adds the val/* keys.
        self.metrics = dict.fromkeys(metric_keys(self.args.task), 0)
        self.run_callbacks("on_pretrain_routine_end")

    def _lr(self, epoch, i, nb):
        ni, nw = i + nb * epoch, max(round(self.args.warmup_epochs * nb), 100) if self.args.warmup_epochs > 0 else -1
        lf = max(1 - epoch / self.epochs, 0) * (1.0 - self.args.lrf) + self.args.lrf
        target = self.args.lr0 * lf
        if ni <= nw:
            return [(self.args.warmup_bias_lr if j == 0 else 0.0) + (target - (self.args.warmup_bias_lr if j == 0 else 0.0)) * ni / nw for j in range(3)]
        return [target] * 3

    def _do_train(self, world_size=1):
        self._setup_train()
        nb = self.train_loader.nb
        batch_seconds = float(os.environ.get("FAKE_ULTRALYTICS_BATCH_SECONDS", "0") or 0)
        crash_at = int(os.environ.get("FAKE_ULTRALYTICS_CRASH_AT_EPOCH", "0") or 0)
        self.epoch_time = None
        self.epoch_time_start = time.time()
        self.train_time_start = time.time()
        self.run_callbacks("on_train_start")
        LOGGER.info(
            f"Image sizes {self.args.imgsz} train, {self.args.imgsz} val\nUsing 0 dataloader workers\n"
            f"Logging results to {colorstr('bold', self.save_dir)}\nStarting training for {self.epochs} epochs..."
        )
        epoch = self.start_epoch
        while True:
            self.epoch = epoch
            self.run_callbacks("on_train_epoch_start")
            self.tloss = None
            for i in range(nb):
                self.run_callbacks("on_train_batch_start")
                if os.environ.get("FAKE_ULTRALYTICS_OOM") and i == 0:
                    raise OutOfMemoryError(
                        "CUDA out of memory. Tried to allocate 20.00 MiB (GPU 0; 15.78 GiB total capacity; "
                        "14.50 GiB already allocated)"
                    )
                if crash_at and epoch + 1 == crash_at and i >= nb // 2:
                    raise RuntimeError(f"fake_ultralytics: simulated crash in epoch {crash_at}")
                if batch_seconds:
                    time.sleep(batch_seconds)
                q = quality(epoch + 1)
                items = FakeTensor(round(2.0 * (1 - q) + 0.2 + 0.05 * j + 0.01 * (i % 3), 5) for j in range(len(self.loss_names)))
                self.loss_items = items
                if i == 0:
                    self.metrics.update(dict.fromkeys(self.label_loss_items(prefix="val"), 0.0))
                self.tloss = items if self.tloss is None else FakeTensor((t * i + x) / (i + 1) for t, x in zip(self.tloss, items))
                for g, lr in zip(self.optimizer.param_groups, self._lr(epoch, i, nb)):
                    g["lr"] = lr
                line = "%11s%11s" % (f"{epoch + 1}/{self.epochs}", "0G") + "".join("%11.4g" % x for x in self.tloss)
                print(f"\r{line} {int(100 * (i + 1) / nb):3d}% {i + 1}/{nb}", end="\x1b[K", flush=True)
                self.run_callbacks("on_train_batch_end")
            print(flush=True)
            self.lr = {f"lr/pg{ir}": x["lr"] for ir, x in enumerate(self.optimizer.param_groups)}
            self.run_callbacks("on_train_epoch_end")
            final_epoch = epoch + 1 >= self.epochs
            if self.args.val or final_epoch or self.stopper.possible_stop or self.stop:
                self.metrics, self.fitness = self.validate()
            self.save_metrics(metrics={**self.label_loss_items(self.tloss), **self.metrics, **self.lr})
            self.stop |= self.stopper(epoch + 1, self.fitness) or final_epoch
            if self.args.time:
                self.stop |= (time.time() - self.train_time_start) > (self.args.time * 3600)
            if self.args.save or final_epoch:
                self.save_model()
                self.run_callbacks("on_model_save")
            t = time.time()
            self.epoch_time = t - self.epoch_time_start
            self.epoch_time_start = t
            self.run_callbacks("on_fit_epoch_end")
            if self.stop:
                break
            epoch += 1
        seconds = time.time() - self.train_time_start
        LOGGER.info(f"\n{epoch - self.start_epoch + 1} epochs completed in {seconds / 3600:.3f} hours.")
        self.final_eval()
        self.run_callbacks("on_train_end")
        self.run_callbacks("teardown")

    def validate(self):
        metrics = self.validator(self)
        fitness = metrics.pop("fitness")
        if self.best_fitness is None or self.best_fitness < fitness:
            self.best_fitness = fitness
        return metrics, fitness

    def save_metrics(self, metrics):
        keys, vals = list(metrics.keys()), list(metrics.values())
        n = len(metrics) + 2
        s = "" if self.csv.exists() else (("%s," * n % tuple(["epoch", "time"] + keys)).rstrip(",") + "\n")
        t = time.time() - self.train_time_start
        with open(self.csv, "a", encoding="utf-8") as f:
            f.write(s + ("%.6g," * n % tuple([self.epoch + 1, t] + vals)).rstrip(",") + "\n")

    def read_results_csv(self):
        import csv

        with open(self.csv, encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        return {k: [float(r[k]) for r in rows] for k in (rows[0].keys() if rows else [])}

    def save_model(self):
        ckpt = {
            "epoch": self.epoch,
            "best_fitness": self.best_fitness,
            "stopper": {"best_fitness": self.stopper.best_fitness, "best_epoch": self.stopper.best_epoch},
            "model": None,
            "ema": FakeModule(self.data.get("names")),
            "updates": self.epoch + 1,
            "modelopt": None,
            "optimizer": {"state": {}, "param_groups": self.optimizer.param_groups},
            "scaler": {"scale": 65536.0},
            "train_args": dict(vars(self.args)),
            "train_metrics": {**self.metrics, **{"fitness": self.fitness}},
            "train_results": self.read_results_csv(),
            "date": datetime.now().isoformat(),
            "version": __version__,
            "git": {"root": None, "branch": None, "commit": None, "message": None, "origin": None},
            "license": "AGPL-3.0 (https://ultralytics.com/license)",
            "docs": "https://docs.ultralytics.com",
        }
        serialized = pickle.dumps(ckpt)
        self.last.write_bytes(serialized)  # not atomic, like the real trainer
        if self.best_fitness == self.fitness:
            self.best.write_bytes(serialized)
        if (self.save_period > 0) and (self.epoch % self.save_period == 0):
            (self.wdir / f"epoch{self.epoch}.pt").write_bytes(serialized)
        return True

    def final_eval(self):
        model = self.best if self.best.exists() else None
        ckpt = strip_optimizer(self.last) if self.last.exists() else {}
        if model:
            strip_optimizer(self.best, updates={"train_results": ckpt.get("train_results")})
            LOGGER.info(f"\nValidating {model}...")
            with open(model, "rb") as fh:
                pickle.load(fh)  # a truncated best.pt fails here, as torch.load would
            self.metrics = self.validator(model=model, epoch=self.stopper.best_epoch or self.epoch + 1)
            self.metrics.pop("fitness", None)
            self.epoch += 1  # 8.4 logs best.pt's metrics at step epochs+1
            self.run_callbacks("on_fit_epoch_end")
            self.epoch -= 1


class FakeModule:
    """Stands in for the EMA nn.Module (the real one pickles as an object); padded to a realistic file size."""

    def __init__(self, names):
        self.names = names
        self.padding = b"\0" * int(os.environ.get("FAKE_ULTRALYTICS_CKPT_BYTES", "65536"))

    def half(self):
        self.padding = self.padding[: len(self.padding) // 2]
        return self


def strip_optimizer(f, updates=None):
    with open(f, "rb") as fh:
        x = pickle.load(fh)
    if x.get("ema"):
        x["model"] = x["ema"].half()
    for k in "optimizer", "best_fitness", "stopper", "ema", "updates", "scaler":
        x[k] = None
    x["epoch"] = -1
    combined = {**x, **(updates or {})}
    Path(f).write_bytes(pickle.dumps(combined))
    return combined
