"""TEST DOUBLE of the Ultralytics package (``ultralytics`` 8.4.190), for tests only.

It is not Ultralytics and trains nothing. It imitates, from the outside, what a trainer sees of the real library
(recorded in e2e/golden/ from 8.4.190): ``YOLO(model).train(**kwargs)``, the callback order and trainer attributes,
the metric keys per task, the duplicate final ``on_fit_epoch_end``, the files a run writes (args.yaml, results.csv,
weights/last.pt and best.pt, stripped by final_eval), resume from last.pt, ``settings.update`` and exceptions
raised by callbacks propagating out of ``train()``. Checkpoints are pickles, so it runs without torch or numpy.

Knobs (environment variables):
  FAKE_ULTRALYTICS_BATCH_SECONDS  sleep per batch (default 0), to make an epoch slow enough to signal mid-epoch
  FAKE_ULTRALYTICS_BATCHES        batches per epoch (default: ceil(train images / batch), at least 1)
  FAKE_ULTRALYTICS_CRASH_AT_EPOCH raise RuntimeError halfway through this 1-based epoch
  FAKE_ULTRALYTICS_OOM            raise a CUDA-style OutOfMemoryError in the first batch
  FAKE_ULTRALYTICS_BEST_EPOCH     metrics rise until this 1-based epoch and fall afterwards
  FAKE_ULTRALYTICS_CKPT_BYTES     padding written into each checkpoint's EMA stand-in (default 65536)
  FAKE_ULTRALYTICS_NO_DOWNLOADS   when set, release-asset names like yolov8n.pt are "not downloadable"
"""

__version__ = "8.4.190"

import os

if not os.environ.get("OMP_NUM_THREADS"):
    os.environ["OMP_NUM_THREADS"] = "1"

from ultralytics.utils import ASSETS, SETTINGS  # noqa: E402
from ultralytics.engine.model import YOLO  # noqa: E402

settings = SETTINGS
__all__ = ("__version__", "ASSETS", "YOLO", "settings")
