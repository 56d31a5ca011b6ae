"""Datasets of trainer-hf, read from the layouts the contract's converter writes: `imagefolder` for classify
({train,val}/<class>/) and `coco` for detect (one COCO JSON per split, absolute image paths, category id = class
index). The image processor runs in the collator, per batch, so it pads a batch of different sizes itself."""

import json
import random
from pathlib import Path

IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}


def _rgb(path):
    from PIL import Image

    with Image.open(path) as im:
        return im.convert("RGB")


def _flip(image):
    from PIL import Image

    return image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)


class ImageFolderSet:
    """(path, class index) pairs; class folders are named by the dataset's class names, in classes.json order."""

    def __init__(self, root, classes, hflip=0.0, seed=0):
        self.items = []
        for index, name in enumerate(classes):
            folder = Path(root) / name
            if folder.is_dir():
                self.items += [(p, index) for p in sorted(folder.rglob("*")) if p.suffix.lower() in IMAGE_EXTS]
        self.hflip = hflip
        self.rng = random.Random(seed)

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        path, label = self.items[i]
        image = _rgb(path)
        if self.hflip and self.rng.random() < self.hflip:
            image = _flip(image)
        return {"image": image, "label": label}


class ClassifyCollator:
    def __init__(self, processor):
        self.processor = processor

    def __call__(self, batch):
        import torch

        pixels = self.processor(images=[b["image"] for b in batch], return_tensors="pt")["pixel_values"]
        return {"pixel_values": pixels, "labels": torch.tensor([b["label"] for b in batch], dtype=torch.long)}


def read_coco(path):
    return json.loads(Path(path).read_text(encoding="utf-8"))


class CocoSet:
    """One COCO split. A horizontal flip (probability `hflip`, training only) mirrors the image and its boxes
    together, so the boxes stay right; nothing else moves boxes."""

    def __init__(self, coco, hflip=0.0, seed=0):
        self.images = coco["images"]
        by_image = {img["id"]: [] for img in self.images}
        for ann in coco.get("annotations", []):
            if not ann.get("iscrowd") and ann["image_id"] in by_image:
                by_image[ann["image_id"]].append(ann)
        self.annotations = by_image
        self.hflip = hflip
        self.rng = random.Random(seed)

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        info = self.images[i]
        image = _rgb(info["file_name"])
        anns = [
            {"bbox": list(map(float, a["bbox"])), "category_id": int(a["category_id"]), "area": float(a.get("area", a["bbox"][2] * a["bbox"][3])), "iscrowd": 0}
            for a in self.annotations[info["id"]]
        ]
        if self.hflip and self.rng.random() < self.hflip:
            image = _flip(image)
            width = image.width
            for a in anns:
                x, y, w, h = a["bbox"]
                a["bbox"] = [width - x - w, y, w, h]
        return {"image": image, "target": {"image_id": int(info["id"]), "annotations": anns}}


class DetectCollator:
    def __init__(self, processor):
        self.processor = processor

    def __call__(self, batch):
        out = self.processor(images=[b["image"] for b in batch], annotations=[b["target"] for b in batch], return_tensors="pt")
        data = {"pixel_values": out["pixel_values"], "labels": list(out["labels"])}
        if "pixel_mask" in out:
            data["pixel_mask"] = out["pixel_mask"]
        return data
