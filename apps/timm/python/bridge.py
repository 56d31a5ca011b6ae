"""timm bridge: trains one job for trainer-timm on the shared runtime (trainer_bridge, CONTRACT section 8).

The loop is timm's train.py (1.0.29) without its logging parts: create_model, resolve_data_config +
create_transform, create_optimizer_v2, create_scheduler_v2 (stepped per epoch and per update), Mixup/CutMix with
SoftTargetCrossEntropy, label smoothing, ModelEmaV3, gradient accumulation and clipping, AMP and channels-last on
CUDA, and an evaluation each epoch (of the EMA weights when EMA is on). Under torchrun (the trainer starts it for
nproc_per_node or several GPUs) it is DDP as train.py does it: `batch` per process, the base lr scaled by the global
batch, each rank a shard of train and val, the metrics summed over ranks, and only rank 0 writing files.

The spec (JSON, written by src/driver.ts) adds to the runtime's common keys (task, run_dir, resume, dataset, ...):
  model           a timm name (`resnet18`, `resnet18.a1_in1k`) or an absolute checkpoint path
  train_args      the validated config in train.py's option names (input_size already settled)
  primary_metric  the canonical metric best.pt is chosen by (accuracy_top1, accuracy_top5, val_loss, loss)
  classes         [{index, id, name}]: class index -> folder name, in the order of classes.json

Files in run_dir: weights/last.pt (resumable: timm's CheckpointSaver keys plus scheduler, history and best metric),
weights/best.pt (a plain state_dict: `timm.create_model(arch, num_classes=N).load_state_dict(torch.load(p))`),
weights/classes.json, results.csv (summary.csv's columns) and args.yaml.
"""

import json
import math
import os
import time
from contextlib import nullcontext
from pathlib import Path

from trainer_bridge import ModelUnavailableError, World, run, use_cpu_threads, write_results

RAW_OF = {
    "accuracy_top1": "eval_top1",
    "accuracy_top5": "eval_top5",
    "val_loss": "eval_loss",
    "loss": "train_loss",
    "lr": "lr",
}
DECREASING = {"eval_loss", "train_loss"}
COLUMNS = ["epoch", "train_loss", "eval_loss", "eval_top1", "eval_top5", "lr"]
CHECKPOINT_VERSION = 2


# --- checkpoints --------------------------------------------------------------------------------------------------


def torch_save_atomic(obj, path):
    import torch

    tmp = path.with_name(f".{path.name}.tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def read_checkpoint(path):
    import torch

    try:
        return torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as e:
        raise ModelUnavailableError(
            f"cannot load checkpoint {path}: {type(e).__name__}: {str(e).splitlines()[0][:300]}"
        ) from e


def state_dict_of(ckpt, use_ema=True):
    """The weights in a checkpoint, as timm's load_checkpoint reads them (EMA first, then state_dict, then bare)."""
    if isinstance(ckpt, dict):
        for key in (("state_dict_ema", "model_ema") if use_ema else ()) + (
            "state_dict",
            "model",
        ):
            if isinstance(ckpt.get(key), dict):
                sd = ckpt[key]
                break
        else:
            sd = ckpt
        return {k.removeprefix("module."): v for k, v in sd.items()}
    raise ModelUnavailableError("checkpoint holds no state_dict")


def fingerprint(state_dict):
    """A few of the weights' values, kept in last.pt to recognise the best epoch's best.pt in the store: every
    update moves them, so two epochs' weights do not share them, and reading them costs no copy of the model."""
    return [float(t.reshape(-1)[i]) for t in state_dict.values() if t.numel() for i in (0, -1)]


def best_weights_of(ckpt, stored_best=None):
    """The best epoch's weights for a resumed run: last.pt's own when its epoch was the best (`best_in` names
    state_dict_ema or state_dict), an older last.pt's copy, or else the store's best.pt when its fingerprint is the
    one last.pt recorded. None when none of them is the best epoch's."""
    best = ckpt.get("best_state_dict")
    if isinstance(best, dict):
        return best
    named = ckpt.get(ckpt.get("best_in") or "")
    if isinstance(named, dict):
        return named
    if stored_best and ckpt.get("best_fingerprint"):
        sd = state_dict_of(read_checkpoint(stored_best), use_ema=False)
        if fingerprint(sd) == ckpt["best_fingerprint"]:
            return sd
    return None


def arch_of(ckpt):
    if not isinstance(ckpt, dict):
        return None
    args = ckpt.get("args")
    if isinstance(args, dict) and isinstance(args.get("model"), str):
        return args["model"]
    arch = ckpt.get("arch")
    return arch if isinstance(arch, str) else None


def load_weights(model, state_dict, source, arch):
    """Loads a checkpoint's weights into `model`; a classifier of another size is left at its fresh init (fine-tuning
    on other classes), anything else that does not fit means the checkpoint is of another model."""
    import torch

    own = model.state_dict()
    head = (
        model.pretrained_cfg.get("classifier")
        if hasattr(model, "pretrained_cfg")
        else None
    )
    heads = [head] if isinstance(head, str) else list(head or [])
    def is_head(k):
        return any(k == h or k.startswith(h + ".") for h in heads)

    missing = [k for k in own if k not in state_dict]
    unexpected = [k for k in state_dict if k not in own]
    mismatched = [
        k
        for k in own
        if k in state_dict and tuple(state_dict[k].shape) != tuple(own[k].shape)
    ]
    bad = [k for k in missing + unexpected + mismatched if not is_head(k)]
    if bad:
        raise ModelUnavailableError(
            f"checkpoint {source} is not a {arch} checkpoint: {len(missing)} missing, {len(unexpected)} unexpected, "
            f"{len(mismatched)} mismatched tensors (first: {bad[0]})"
        )
    keep = {k: v for k, v in state_dict.items() if k in own and k not in mismatched}
    with torch.no_grad():
        model.load_state_dict(keep, strict=False)
    return [k for k in own if k not in keep]


# --- run files ----------------------------------------------------------------------------------------------------


def write_args_yaml(path, args, arch, num_classes):
    import yaml

    doc = {**args, "model": arch, "num_classes": num_classes}
    with open(path, "w", encoding="utf-8") as f:
        yaml.safe_dump(doc, f, default_flow_style=False, sort_keys=True)


# --- setup --------------------------------------------------------------------------------------------------------


def pick_device(args, world):
    import torch

    want = str(args.get("device", "auto"))
    if want == "auto":
        want = "cuda" if torch.cuda.is_available() else "cpu"
    if want == "cpu" or want.startswith("mps"):
        return torch.device(want)
    # Under torchrun each rank has its GPU: the trainer limited CUDA_VISIBLE_DEVICES to the ones in `device`.
    if world.distributed:
        return torch.device(f"cuda:{world.local_rank}")
    if want.isdigit():
        return torch.device(f"cuda:{want}")
    if "," in want:
        return torch.device(f"cuda:{want.split(',')[0]}")
    return torch.device(want)


def base_lr(args, world_size=1):
    """train.py: without --lr, lr_base scaled by the global batch (sqrt for ada*/lamb, else linear)."""
    if args.get("lr") is not None:
        return float(args["lr"])
    ratio = args["batch"] * world_size * args["grad_accum_steps"] / args["lr_base_size"]
    scale = args["lr_base_scale"] or (
        "sqrt" if any(o in args["opt"].lower() for o in ("ada", "lamb")) else "linear"
    )
    return args["lr_base"] * (ratio**0.5 if scale == "sqrt" else ratio)


def build_model(ctx, args, num_classes):
    import timm

    spec = ctx.spec
    source = spec["model"]
    kwargs = {"num_classes": num_classes, "drop_rate": args["drop_rate"]}
    if args.get("drop_path_rate") is not None:
        kwargs["drop_path_rate"] = args["drop_path_rate"]
    if not (os.path.isabs(source) or source.startswith("s3://")):
        try:
            model = timm.create_model(
                source, pretrained=bool(args["pretrained"]), **kwargs
            )
        except RuntimeError as e:
            if "pretrained" in str(e).lower() and "no" in str(e).lower():
                raise ModelUnavailableError(
                    f"model {source}: {e} (set pretrained: false to train it from scratch)"
                ) from e
            raise
        return model, source.split(".")[0]
    ckpt = read_checkpoint(source)
    arch = arch_of(ckpt)
    named = args.get("model")
    if arch and named and arch.split(".")[0] != named.split(".")[0]:
        raise ModelUnavailableError(
            f"model_name: {source} is a checkpoint of {arch}, but config.model is {named}"
        )
    arch = (named or arch or "").split(".")[0]
    if not arch:
        raise ModelUnavailableError(
            f"model_name: {source} is a bare state_dict; name its architecture with config.model (e.g. resnet18)"
        )
    if not timm.is_model(arch):
        raise ModelUnavailableError(
            f"model_name: {source} is a checkpoint of {arch!r}, which timm does not know"
        )
    model = timm.create_model(arch, pretrained=False, **kwargs)
    fresh = load_weights(model, state_dict_of(ckpt), source, arch)
    ctx.log(
        f"weights from {source} ({arch}); fresh: {', '.join(fresh) if fresh else 'none'}"
    )
    return model, arch


def make_loaders(args, data_config, dataset_spec, class_map, device, world):
    import torch
    from timm.data import ImageDataset, create_transform

    folders = dataset_spec["image_folder"]
    train_tf = create_transform(
        input_size=data_config["input_size"],
        is_training=True,
        no_aug=args["no_aug"],
        scale=tuple(args["scale"]),
        ratio=tuple(args["ratio"]),
        hflip=args["hflip"],
        vflip=args["vflip"],
        color_jitter=args["color_jitter"],
        auto_augment=args.get("aa"),
        interpolation=args["train_interpolation"],
        mean=data_config["mean"],
        std=data_config["std"],
        re_prob=args["reprob"],
        re_mode=args["remode"],
        re_count=args["recount"],
    )
    eval_tf = create_transform(
        input_size=data_config["input_size"],
        is_training=False,
        interpolation=data_config["interpolation"],
        mean=data_config["mean"],
        std=data_config["std"],
        crop_pct=data_config["crop_pct"],
        crop_mode=data_config.get("crop_mode"),
    )
    train_ds = ImageDataset(folders["train"], class_map=class_map, transform=train_tf)
    val_ds = ImageDataset(folders["val"], class_map=class_map, transform=eval_tf)
    if len(train_ds) == 0:
        raise ValueError(f"no training images in {folders['train']}")
    train_sampler = None
    if world.distributed:
        # Each rank validates every world.size-th image: no padding, so the summed metrics are exact.
        val_ds = torch.utils.data.Subset(val_ds, range(world.rank, len(val_ds), world.size))
        train_sampler = torch.utils.data.distributed.DistributedSampler(
            train_ds, num_replicas=world.size, rank=world.rank, shuffle=True, seed=int(args["seed"]), drop_last=True
        )
    workers = int(args["workers"])
    cuda = device.type == "cuda"
    common = {
        "num_workers": workers,
        "pin_memory": bool(args["pin_mem"]) and cuda,
        "persistent_workers": workers > 0,
    }
    batch = min(int(args["batch"]), len(train_ds) // world.size or 1)
    gen = torch.Generator()
    gen.manual_seed(int(args["seed"]))
    # drop_last as timm's create_loader does for training: mixup needs whole (even) batches.
    train_loader = torch.utils.data.DataLoader(
        train_ds,
        batch_size=batch,
        shuffle=train_sampler is None,
        sampler=train_sampler,
        drop_last=True,
        generator=gen,
        **common,
    )
    val_loader = torch.utils.data.DataLoader(
        val_ds,
        batch_size=int(args.get("validation_batch_size") or args["batch"]),
        shuffle=False,
        **common,
    )
    return train_loader, val_loader, batch


# --- the loop (train.py's train_one_epoch and validate) -----------------------------------------------------------


def train_one_epoch(
    ctx,
    world,
    epoch,
    model,
    net,
    loader,
    optimizer,
    loss_fn,
    args,
    device,
    amp_autocast,
    loss_scaler,
    model_ema,
    mixup_fn,
    scheduler,
    num_updates,
    steps,
):
    import torch
    from timm.models import model_parameters
    from timm.utils import AverageMeter, dispatch_clip_grad

    if (
        mixup_fn is not None
        and args["mixup_off_epoch"]
        and epoch >= args["mixup_off_epoch"]
    ):
        mixup_fn.mixup_enabled = False
    accum = int(args["grad_accum_steps"])
    clip, clip_mode = args.get("clip_grad"), args["clip_mode"]
    last_accum = len(loader) % accum
    last_idx = len(loader) - 1
    last_to_accum = len(loader) - last_accum
    losses = AverageMeter()
    model.train()
    optimizer.zero_grad()
    if hasattr(loader.sampler, "set_epoch"):
        loader.sampler.set_epoch(epoch)
    for batch_idx, (inp, target) in enumerate(loader):
        ctx.raise_if_any_rank_stopped(world)
        need_update = batch_idx == last_idx or (batch_idx + 1) % accum == 0
        if batch_idx >= last_to_accum:
            accum = last_accum
        inp, target = (
            inp.to(device, non_blocking=True),
            target.to(device, non_blocking=True),
        )
        if mixup_fn is not None:
            inp, target = mixup_fn(inp, target)
        if args["channels_last"] and device.type == "cuda":
            inp = inp.contiguous(memory_format=torch.channels_last)
        def params():
            return model_parameters(model, exclude_head="agc" in clip_mode)

        # DDP syncs gradients on an update step's backward only (forward and backward under no_sync in between),
        # as train.py does.
        with nullcontext() if need_update or net is model else net.no_sync():
            with amp_autocast():
                output = net(inp)
                loss = loss_fn(output, target)
            if accum > 1:
                loss = loss / accum
            if loss_scaler is not None:
                loss_scaler(
                    loss,
                    optimizer,
                    clip_grad=clip,
                    clip_mode=clip_mode,
                    parameters=params(),
                    need_update=need_update,
                )
            else:
                loss.backward()
                if need_update:
                    if clip is not None:
                        dispatch_clip_grad(params(), value=clip, mode=clip_mode)
                    optimizer.step()
        losses.update(loss.item() * accum, inp.size(0))
        steps += 1
        ctx.heartbeat(steps)
        if not need_update:
            continue
        num_updates += 1
        optimizer.zero_grad()
        if model_ema is not None:
            model_ema.update(model, step=num_updates)
        if scheduler is not None:
            scheduler.step_update(num_updates=num_updates, metric=losses.avg)
    lrs = [g["lr"] for g in optimizer.param_groups]
    loss_sum, count = world.sum([losses.sum, losses.count])
    return {"loss": loss_sum / max(count, 1), "lr": sum(lrs) / len(lrs)}, num_updates, steps


def validate(ctx, world, model, loader, loss_fn, device, amp_autocast, args, num_classes):
    """Loss, top-1 and top-5 over the whole val split: each rank's shard summed, so every rank gets the same."""
    import torch
    from timm.utils import accuracy

    loss_sum = top1_sum = top5_sum = seen = 0.0
    model.eval()
    with torch.no_grad():
        for inp, target in loader:
            ctx.raise_if_stopped()
            inp, target = (
                inp.to(device, non_blocking=True),
                target.to(device, non_blocking=True),
            )
            if args["channels_last"] and device.type == "cuda":
                inp = inp.contiguous(memory_format=torch.channels_last)
            with amp_autocast():
                output = model(inp)
                if isinstance(output, (tuple, list)):
                    output = output[0]
                loss = loss_fn(output, target)
            acc1, acc5 = accuracy(output, target, topk=(1, min(5, num_classes)))
            n = inp.size(0)
            loss_sum += loss.item() * n
            top1_sum += acc1.item() * n
            top5_sum += acc5.item() * n
            seen += n
    loss_sum, top1_sum, top5_sum, seen = world.sum([loss_sum, top1_sum, top5_sum, seen])
    seen = max(seen, 1)
    return {"loss": loss_sum / seen, "top1": top1_sum / seen, "top5": top5_sum / seen}


def better(value, best, key):
    if best is None:
        return True
    return value < best if key in DECREASING else value > best


def train(ctx):
    spec = ctx.spec
    args = dict(spec["train_args"])
    ctx.raise_if_stopped()
    import torch
    from timm.data import Mixup, resolve_data_config
    from timm.loss import LabelSmoothingCrossEntropy, SoftTargetCrossEntropy
    from timm.optim import create_optimizer_v2
    from timm.scheduler import create_scheduler_v2
    from timm.utils import ModelEmaV3, NativeScaler, random_seed

    use_cpu_threads()
    run_dir = Path(spec["run_dir"])
    weights = run_dir / "weights"
    classes = spec["classes"]
    num_classes = len(classes)
    class_map = {c["name"]: int(c["index"]) for c in classes}
    # Every rank shares run_dir on a node: only rank 0 writes there.
    writer = ctx.is_rank0
    if writer:
        weights.mkdir(parents=True, exist_ok=True)
        (weights / "classes.json").write_text(
            json.dumps(classes, indent=2) + "\n", encoding="utf-8"
        )

    world = World()
    device = pick_device(args, world)
    world.start(device.type)
    random_seed(int(args["seed"]), world.rank)
    model, arch = build_model(ctx, args, num_classes)
    data_args = {
        k: args[k]
        for k in ("input_size", "crop_pct", "interpolation")
        if args.get(k) is not None
    }
    data_config = resolve_data_config(data_args, model=model)
    ctx.log(
        f"{arch}: {sum(p.numel() for p in model.parameters()) / 1e6:.2f}M params, data config {data_config}, device {device}"
    )
    model.to(device)
    cuda = device.type == "cuda"
    if args["channels_last"] and cuda:
        model.to(memory_format=torch.channels_last)
    net = model
    if world.distributed:
        net = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if cuda else None
        )
        ctx.log(f"DDP rank {world.rank} of {world.size} ({world.backend}) on {device}")

    train_loader, val_loader, batch = make_loaders(
        args, data_config, spec["dataset"], class_map, device, world
    )
    if batch != int(args["batch"]):
        ctx.log(
            f"batch {args['batch']} is more than the {batch} training images; using {batch}"
        )
    args["batch"] = batch
    lr = base_lr(args, world.size)
    opt_kwargs = {
        k: args[k]
        for k in ("opt_eps", "opt_betas", "layer_decay")
        if args.get(k) is not None
    }
    if "opt_eps" in opt_kwargs:
        opt_kwargs["eps"] = opt_kwargs.pop("opt_eps")
    if "opt_betas" in opt_kwargs:
        opt_kwargs["betas"] = tuple(opt_kwargs.pop("opt_betas"))
    optimizer = create_optimizer_v2(
        model,
        opt=args["opt"],
        lr=lr,
        weight_decay=args["weight_decay"],
        momentum=args["momentum"],
        **opt_kwargs,
    )

    amp = bool(args["amp"]) and cuda
    if args["amp"] and not cuda:
        ctx.log("amp is for CUDA; training in float32 on the CPU")
    amp_dtype = torch.bfloat16 if args["amp_dtype"] == "bfloat16" else torch.float16
    amp_autocast = (
        (lambda: torch.autocast(device_type=device.type, dtype=amp_dtype))
        if amp
        else nullcontext
    )
    loss_scaler = (
        NativeScaler(device=device.type) if amp and amp_dtype == torch.float16 else None
    )
    model_ema = (
        ModelEmaV3(
            model, decay=args["model_ema_decay"], use_warmup=args["model_ema_warmup"]
        )
        if args["model_ema"]
        else None
    )

    accum = int(args["grad_accum_steps"])
    updates_per_epoch = (len(train_loader) + accum - 1) // accum
    primary = RAW_OF.get(spec.get("primary_metric") or "accuracy_top1", "eval_top1")
    noise = args.get("lr_noise")
    scheduler, num_epochs = create_scheduler_v2(
        optimizer,
        sched=args["sched"],
        num_epochs=int(args["epochs"]) - int(args["cooldown_epochs"]),
        decay_epochs=args["decay_epochs"],
        decay_milestones=args["decay_milestones"],
        cooldown_epochs=args["cooldown_epochs"],
        patience_epochs=args["patience_epochs"],
        decay_rate=args["decay_rate"],
        min_lr=args["min_lr"],
        warmup_lr=args["warmup_lr"],
        warmup_epochs=args["warmup_epochs"],
        warmup_prefix=args["warmup_prefix"],
        noise=(noise[0] if len(noise) == 1 else noise) if noise else None,
        noise_pct=args["lr_noise_pct"],
        noise_std=args["lr_noise_std"],
        noise_seed=args["seed"],
        cycle_mul=args["lr_cycle_mul"],
        cycle_decay=args["lr_cycle_decay"],
        cycle_limit=args["lr_cycle_limit"],
        k_decay=args["lr_k_decay"],
        plateau_mode="min" if primary in DECREASING else "max",
        step_on_epochs=not args["sched_on_updates"],
        updates_per_epoch=updates_per_epoch,
    )
    if args["sched"] == "none":
        scheduler = None
    num_epochs = int(args["epochs"])

    mixup_fn = None
    mixup_active = (
        args["mixup"] > 0 or args["cutmix"] > 0 or args.get("cutmix_minmax") is not None
    )
    if mixup_active:
        mixup_fn = Mixup(
            mixup_alpha=args["mixup"],
            cutmix_alpha=args["cutmix"],
            cutmix_minmax=args.get("cutmix_minmax"),
            prob=args["mixup_prob"],
            switch_prob=args["mixup_switch_prob"],
            mode=args["mixup_mode"],
            label_smoothing=args["smoothing"],
            num_classes=num_classes,
        )
        train_loss_fn = SoftTargetCrossEntropy()
    elif args["smoothing"]:
        train_loss_fn = LabelSmoothingCrossEntropy(smoothing=args["smoothing"])
    else:
        train_loss_fn = torch.nn.CrossEntropyLoss()
    train_loss_fn = train_loss_fn.to(device)
    val_loss_fn = torch.nn.CrossEntropyLoss().to(device)

    start_epoch, best_metric, best_epoch, history, best_fp, best_sd = 0, None, 0, [], None, None
    carry_best = int(spec.get("checkpoint_interval") or 1) != 1
    if spec.get("resume"):
        ck = read_checkpoint(spec["resume"])
        resumed_arch = arch_of(ck)
        if resumed_arch and resumed_arch.split(".")[0] != arch:
            raise ModelUnavailableError(
                f"the job's last.pt is a checkpoint of {resumed_arch}, not {arch}: start a new job id or train {resumed_arch}"
            )
        if int(ck.get("num_classes", num_classes)) != num_classes:
            raise ModelUnavailableError(
                f"the job's last.pt has {ck.get('num_classes')} classes, the dataset {num_classes}"
            )
        done = int(ck.get("epoch", -1)) + 1
        if ck.get("optimizer") is None or done >= num_epochs:
            ctx.log(
                f"{spec['resume']} is a finished checkpoint; training starts from the beginning"
            )
        else:
            load_weights(model, state_dict_of(ck, use_ema=False), spec["resume"], arch)
            optimizer.load_state_dict(ck["optimizer"])
            if model_ema is not None and isinstance(ck.get("state_dict_ema"), dict):
                model_ema.module.load_state_dict(ck["state_dict_ema"])
            if loss_scaler is not None and isinstance(
                ck.get(loss_scaler.state_dict_key), dict
            ):
                loss_scaler.load_state_dict(ck[loss_scaler.state_dict_key])
            if scheduler is not None and isinstance(ck.get("scheduler"), dict):
                scheduler.load_state_dict(ck["scheduler"])
            start_epoch, best_metric, best_epoch = (
                done,
                ck.get("metric"),
                int(ck.get("best_epoch", 0)),
            )
            history = list(ck.get("history") or [])
            # A restart in a fresh WORK_DIR has no best.pt of its own: it comes from last.pt or from the store.
            best_sd = best_weights_of(ck, spec.get("resume_best"))
            if best_sd is not None:
                best_fp = fingerprint(best_sd)
                if writer:
                    torch_save_atomic(best_sd, weights / "best.pt")
                if not carry_best:
                    best_sd = None
            elif best_epoch:
                ctx.log(
                    f"the best epoch's weights (epoch {best_epoch}) are not in the checkpoint store (an upload "
                    "failed before the restart): the best epoch is picked again from here on"
                )
                best_metric, best_epoch = None, 0
            if isinstance(ck.get("rng"), dict):
                torch.set_rng_state(ck["rng"]["torch"])
    if scheduler is not None and start_epoch > 0:
        if args["sched_on_updates"]:
            scheduler.step_update(start_epoch * updates_per_epoch)
        else:
            scheduler.step(start_epoch)

    if writer:
        write_args_yaml(
            run_dir / "args.yaml", {k: v for k, v in args.items()}, arch, num_classes
        )
    ctx.train_start(epochs=num_epochs, start_epoch=start_epoch, save_dir=run_dir)
    num_updates, steps = start_epoch * updates_per_epoch, 0
    for epoch in range(start_epoch, num_epochs):
        started = time.monotonic()
        train_metrics, num_updates, steps = train_one_epoch(
            ctx,
            world,
            epoch,
            model,
            net,
            train_loader,
            optimizer,
            train_loss_fn,
            args,
            device,
            amp_autocast,
            loss_scaler,
            model_ema,
            mixup_fn,
            scheduler,
            num_updates,
            steps,
        )
        evaluated = model_ema.module if model_ema is not None else model
        eval_metrics = validate(
            ctx,
            world,
            evaluated,
            val_loader,
            val_loss_fn,
            device,
            amp_autocast,
            args,
            num_classes,
        )
        row = {
            "epoch": epoch + 1,
            "train_loss": train_metrics["loss"],
            "eval_loss": eval_metrics["loss"],
            "eval_top1": eval_metrics["top1"],
            "eval_top5": eval_metrics["top5"],
            "lr": train_metrics["lr"],
        }
        if scheduler is not None:
            scheduler.step(epoch + 1, row[primary])
        history.append(row)
        improved = better(row[primary], best_metric, primary) and math.isfinite(
            row[primary]
        )
        if improved:
            best_metric, best_epoch = row[primary], epoch + 1
        if writer:
            write_results(run_dir / "results.csv", history, fields=COLUMNS)
            # best.pt before last.pt: a stop between the two leaves a last.pt whose best.pt is already on disk.
            if improved:
                best_now = evaluated.state_dict()
                torch_save_atomic(best_now, weights / "best.pt")
                best_fp = fingerprint(best_now)
                if carry_best:  # for the later last.pt that carries it; a copy, as the model trains on in place
                    best_sd = {k: v.detach().to("cpu", copy=True) for k, v in best_now.items()}
            best_in = "state_dict_ema" if model_ema is not None else "state_dict"
            state = {
                "epoch": epoch,
                "arch": arch,
                "state_dict": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "version": CHECKPOINT_VERSION,
                "metric": best_metric,
                "best_epoch": best_epoch,
                "num_classes": num_classes,
                "classes": [c["name"] for c in classes],
                "args": {**args, "model": arch},
                "history": history,
                # The best epoch's weights are not written twice: they are this checkpoint's own under `best_in`
                # when this epoch is the best, and else the store's best.pt, recognised by `best_fingerprint`
                # (the store gets each new best.pt right after its epoch's last.pt). That keeps last.pt as
                # train.py's (model, optimizer, EMA), a third smaller than with a copy. With checkpoint_interval
                # above 1 the store misses the best epochs between uploads, so last.pt carries a copy.
                "best_in": best_in if improved else None,
                "best_fingerprint": best_fp,
                "best_state_dict": None if improved else best_sd,
                "rng": {"torch": torch.get_rng_state()},
            }
            if scheduler is not None:
                state["scheduler"] = scheduler.state_dict()
            if model_ema is not None:
                state["state_dict_ema"] = model_ema.module.state_dict()
            if loss_scaler is not None:
                state[loss_scaler.state_dict_key] = loss_scaler.state_dict()
            torch_save_atomic(state, weights / "last.pt")
            # torch_save_atomic only ever renames over these files: their snapshots can be hard links.
            # last before best: a last.pt in the store then never names a best epoch whose best.pt is not there
            # (the uploader keeps this order), and this epoch's last.pt carries its own best weights.
            ctx.checkpoint("last", weights / "last.pt", epoch + 1, replaced_by_rename=True)
            if improved:
                ctx.checkpoint("best", weights / "best.pt", epoch + 1, replaced_by_rename=True)
        raw = {k: v for k, v in row.items() if k != "epoch"}
        ctx.epoch_end(
            epoch + 1,
            raw,
            lr={"lr": train_metrics["lr"]},
            epoch_time=time.monotonic() - started,
            epochs=num_epochs,
        )

    best_row = next(
        (h for h in history if h["epoch"] == best_epoch), history[-1] if history else {}
    )
    final = {k: v for k, v in best_row.items() if k != "epoch"}
    ctx.train_end(
        best_epoch or (history[-1]["epoch"] if history else 0),
        final,
        run_dir,
        best=weights / "best.pt",
        last=weights / "last.pt",
    )
    world.stop()


def check_name(name):
    """Preflight's question (src/model.ts): is `name` a model timm has, and a pretrained tag it knows? timm's own
    registry decides; difflib ranks the close matches. Asked in the bridge that imports timm for training."""
    import difflib

    import timm

    base, _, tag = name.partition(".")
    if not timm.is_model(base):
        names = timm.list_models()
        close = difflib.get_close_matches(base, names, n=5, cutoff=0.6) or sorted(n for n in names if base.lower() in n)[:5]
        return {"ok": False, "why": "name", "close": close}
    if tag and name not in timm.list_pretrained(base + ".*"):
        return {"ok": False, "why": "tag", "close": timm.list_pretrained(base + ".*")[:8]}
    return {"ok": True}


if __name__ == "__main__":
    run(train, check=check_name)
