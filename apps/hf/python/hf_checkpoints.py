"""Checkpoint folders as single files: the contract uploads one file per checkpoint (CONTRACT section 6), and a
Hugging Face checkpoint is a folder. `last.tar` holds the Trainer's whole checkpoint folder (weights, optimizer,
scheduler, RNG and trainer state) plus, when another checkpoint is the best, that one's model files and the run's
results.csv, so a fresh work dir resumes with its best intact. `best.tar` holds what from_pretrained and
AutoImageProcessor need: save_pretrained's files and preprocessor_config.json."""

import os
import tarfile
from pathlib import Path

# Training state that a finished model does not need.
TRAINING_ONLY = ("optimizer.pt", "scheduler.pt", "scaler.pt", "training_args.bin", "trainer_state.json")


def _model_files(folder):
    return [p for p in sorted(Path(folder).iterdir()) if p.is_file() and p.name not in TRAINING_ONLY and not p.name.startswith("rng_state")]


def _write(dest, members):
    """members: (path on disk, name in the archive). Written to a temp name, then renamed, so no reader sees half."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.tmp")
    with tarfile.open(tmp, "w") as tar:
        for path, name in members:
            tar.add(str(path), arcname=name, recursive=False)
    os.replace(tmp, dest)
    return dest


def pack_best(folder, dest):
    """The best model as `model/…`: `tar xf best.tar` then from_pretrained("model")."""
    return _write(dest, [(p, f"model/{p.name}") for p in _model_files(folder)])


def pack_last(folder, dest, best_folder=None, extra=()):
    folder = Path(folder)
    members = [(p, f"{folder.name}/{p.relative_to(folder)}") for p in sorted(folder.rglob("*")) if p.is_file()]
    if best_folder is not None and Path(best_folder).resolve() != folder.resolve():
        best = Path(best_folder)
        members += [(p, f"{best.name}/{p.name}") for p in _model_files(best)]
    members += [(Path(p), Path(p).name) for p in extra if Path(p).is_file()]
    return _write(dest, members)


def unpack_last(archive, output_dir, run_dir):
    """Restores a last.tar into a fresh output dir; returns the checkpoint folder to resume from, or None when the
    archive is not one of ours. Top-level files (results.csv) go to run_dir."""
    output_dir, run_dir = Path(output_dir), Path(run_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive) as tar:
        members = tar.getmembers()
        folders = sorted({m.name.split("/", 1)[0] for m in members if "/" in m.name and m.name.startswith("checkpoint-")})
        for m in members:
            if not m.isfile() or m.name.startswith("/") or ".." in Path(m.name).parts:
                continue
            target = (output_dir if "/" in m.name else run_dir) / m.name
            target.parent.mkdir(parents=True, exist_ok=True)
            with tar.extractfile(m) as src, open(target, "wb") as dst:
                dst.write(src.read())
    return resumable(output_dir, folders)


def resumable(output_dir, folders=None):
    """The newest checkpoint folder in output_dir the Trainer can resume from (among `folders` when given), or None."""
    output_dir = Path(output_dir)
    names = folders if folders is not None else [p.name for p in output_dir.glob("checkpoint-*") if p.is_dir()]
    ready = [f for f in names if f.split("-")[-1].isdigit() and (output_dir / f / "trainer_state.json").is_file()]
    return output_dir / max(ready, key=lambda f: int(f.split("-")[1])) if ready else None
