"""Writes a tiny YOLO dataset (coloured rectangles on a plain background) for integration tests.

Usage: python make_tiny_dataset.py OUT_DIR [N_TRAIN] [N_VAL] [SIZE] [TASK]
TASK is detect (default), segment, pose, obb or classify.
detect/segment/pose/obb: OUT_DIR/images/{train,val}, OUT_DIR/labels/{train,val}, OUT_DIR/data.yaml (absolute path).
classify: OUT_DIR/{train,val}/{red,green}/*.jpg.
Needs Pillow only.
"""

import random
import sys
from pathlib import Path

from PIL import Image, ImageDraw

COLOURS = [(220, 40, 40), (40, 200, 60)]
NAMES = ["red", "green"]


def label(task, cls, x0, y0, w, h, size):
    cx, cy, nw, nh = (x0 + w / 2) / size, (y0 + h / 2) / size, w / size, h / size
    corners = [(x0, y0), (x0 + w, y0), (x0 + w, y0 + h), (x0, y0 + h)]
    if task in ("segment", "obb"):
        # obb: the four corners of an axis-aligned box are a valid oriented box.
        return f"{cls} " + " ".join(f"{x / size:.6f} {y / size:.6f}" for x, y in corners)
    if task == "pose":
        return f"{cls} {cx:.6f} {cy:.6f} {nw:.6f} {nh:.6f} " + " ".join(f"{x / size:.6f} {y / size:.6f} 2" for x, y in corners)
    return f"{cls} {cx:.6f} {cy:.6f} {nw:.6f} {nh:.6f}"


def main(out, n_train=16, n_val=8, size=64, task="detect"):
    out = Path(out).resolve()
    rng = random.Random(0)
    for split, n in (("train", n_train), ("val", n_val)):
        for i in range(n):
            img = Image.new("RGB", (size, size), tuple(rng.randrange(60, 120) for _ in range(3)))
            draw = ImageDraw.Draw(img)
            lines = []
            for _ in range(1 if task == "classify" else rng.randint(1, 2)):
                cls = i % 2 if task == "classify" else rng.randrange(2)
                w, h = rng.randint(size // 5, size // 2), rng.randint(size // 5, size // 2)
                x0, y0 = rng.randint(0, size - w), rng.randint(0, size - h)
                draw.rectangle([x0, y0, x0 + w, y0 + h], fill=COLOURS[cls])
                lines.append(label(task, cls, x0, y0, w, h, size))
            if task == "classify":
                folder = out / split / NAMES[i % 2]
                folder.mkdir(parents=True, exist_ok=True)
                img.save(folder / f"{split}{i}.jpg", quality=90)
                continue
            (out / "images" / split).mkdir(parents=True, exist_ok=True)
            (out / "labels" / split).mkdir(parents=True, exist_ok=True)
            img.save(out / "images" / split / f"{split}{i}.jpg", quality=90)
            (out / "labels" / split / f"{split}{i}.txt").write_text("\n".join(lines) + "\n")
    if task == "classify":
        return out
    extra = "kpt_shape: [4, 3]\nflip_idx: [1, 0, 3, 2]\n" if task == "pose" else ""
    (out / "data.yaml").write_text(f"path: {out}\ntrain: images/train\nval: images/val\nnames:\n  0: red\n  1: green\n{extra}")
    return out / "data.yaml"


if __name__ == "__main__":
    a = sys.argv[1:]
    nums = [int(x) for x in a[1:4]]
    print(main(a[0], *nums, **({"task": a[4]} if len(a) > 4 else {})))
