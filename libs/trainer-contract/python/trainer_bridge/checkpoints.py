"""Publishing a checkpoint: a complete, private copy that appears in one step."""

import os
import shutil
from pathlib import Path


def publish(src, snapshot_dir, kind):
    """Copies `src` to `<snapshot_dir>/<kind><suffix>` through a temp file that is fsynced and renamed into place,
    then fsyncs the folder, so the copy survives a crash and a reader (the uploader) never sees half of it.

    A copy, not a link: frameworks rewrite their checkpoint in place (Ultralytics truncates the same inode), which
    would change a linked file under an upload. The rename replaces the path, so an upload that already opened the
    previous copy keeps reading it whole."""
    src = Path(src)
    folder = Path(snapshot_dir)
    folder.mkdir(parents=True, exist_ok=True)
    dst = folder / f"{kind}{src.suffix or '.pt'}"
    tmp = folder / f".{dst.name}.tmp"
    with open(src, "rb") as fin, open(tmp, "wb") as fout:
        shutil.copyfileobj(fin, fout, 1024 * 1024)
        fout.flush()
        os.fsync(fout.fileno())
    os.replace(tmp, dst)
    _fsync_dir(folder)
    return dst


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
