"""Publishing a checkpoint: a complete, private copy that appears in one step."""

import os
import shutil
from pathlib import Path


def publish(src, snapshot_dir, kind, link=False):
    """Puts `src` at `<snapshot_dir>/<kind><suffix>` through a temp name renamed into place, so a reader (the
    uploader) never sees half of it.

    A copy by default, fsynced before the rename: frameworks rewrite their checkpoint in place (Ultralytics
    truncates the same inode), which would change a linked file under an upload. With `link`, the caller promises
    that `src` is only ever replaced by a rename (timm's CheckpointSaver writes the same way), so a hard link is as
    private as a copy and costs no second write of the file: for a 130 MB checkpoint that is most of an epoch of a
    small model. The rename replaces the path, so an upload that already opened the previous snapshot keeps reading
    it whole. A link is not fsynced here: the snapshot is only read by the uploader while this process lives (a
    restart resumes from the checkpoint store, which makes what it keeps durable), and an fsync of 130 MB on the
    training thread cost 5% of a small model's epoch."""
    src = Path(src)
    folder = Path(snapshot_dir)
    folder.mkdir(parents=True, exist_ok=True)
    dst = folder / f"{kind}{src.suffix or '.pt'}"
    tmp = folder / f".{dst.name}.tmp"
    if link and _linked(src, tmp):
        os.replace(tmp, dst)
        return dst
    with open(src, "rb") as fin, open(tmp, "wb") as fout:
        shutil.copyfileobj(fin, fout, 1024 * 1024)
        fout.flush()
        os.fsync(fout.fileno())
    os.replace(tmp, dst)
    _fsync_dir(folder)
    return dst


def _linked(src, tmp):
    """Hard-links `src` at `tmp`; False where links do not work (another filesystem)."""
    try:
        tmp.unlink(missing_ok=True)
        os.link(src, tmp)
    except OSError:
        return False
    return True


def _fsync_dir(folder):
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems refuse fsync on a directory; the rename is still atomic
    finally:
        os.close(fd)
