"""Evaluation metrics of trainer-hf: top-k accuracy, and COCO detection metrics computed with pycocotools' COCOeval."""

import contextlib
import io

import numpy as np


def topk_accuracy(logits, labels, ks=(1, 5)):
    """Fractions in [0, 1]; k is capped at the number of classes (top-5 of 3 classes is top-3)."""
    logits = np.asarray(logits)
    labels = np.asarray(labels).reshape(-1)
    if logits.ndim != 2 or len(labels) == 0:
        return {f"accuracy_top{k}": 0.0 for k in ks}
    order = np.argsort(-logits, axis=1)
    out = {}
    for k in ks:
        top = order[:, : min(k, logits.shape[1])]
        out[f"accuracy_top{k}"] = float(np.mean(np.any(top == labels[:, None], axis=1)))
    return out


def coco_metrics(gt, detections):
    """`gt`: a COCO dict (images, annotations, categories); `detections`: [{image_id, category_id, bbox [x,y,w,h],
    score}]. Returns mAP50-95 and mAP50 (COCOeval stats[0] and [1]) and precision/recall at IoU 0.5 at the point of
    best F1 on each class's precision-recall curve, averaged over the classes that have ground truth."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    empty = {"mAP50-95": 0.0, "mAP50": 0.0, "precision": 0.0, "recall": 0.0}
    if not gt.get("annotations"):
        return empty
    quiet = io.StringIO()
    with contextlib.redirect_stdout(quiet):
        coco_gt = COCO()
        coco_gt.dataset = {"images": gt["images"], "annotations": gt["annotations"], "categories": gt["categories"]}
        coco_gt.createIndex()
        if not detections:
            return empty
        coco_dt = coco_gt.loadRes([dict(d) for d in detections])
        ev = COCOeval(coco_gt, coco_dt, iouType="bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    stats = [max(0.0, float(s)) for s in ev.stats[:2]]
    precision, recall = _best_f1(ev)
    return {"mAP50-95": stats[0], "mAP50": stats[1], "precision": precision, "recall": recall}


def _best_f1(ev):
    # eval["precision"]: [IoU thresholds, recall thresholds, classes, area ranges, max dets]; -1 where no ground truth.
    prec = ev.eval["precision"][0, :, :, 0, -1]
    rec_thr = np.asarray(ev.params.recThrs)
    ps, rs = [], []
    for k in range(prec.shape[1]):
        p = prec[:, k]
        if np.all(p < 0):
            continue
        p = np.clip(p, 0, None)
        f1 = 2 * p * rec_thr / np.maximum(p + rec_thr, 1e-12)
        i = int(np.argmax(f1))
        ps.append(float(p[i]) if f1[i] > 0 else 0.0)
        rs.append(float(rec_thr[i]) if f1[i] > 0 else 0.0)
    if not ps:
        return 0.0, 0.0
    return float(np.mean(ps)), float(np.mean(rs))
