"""TEST DOUBLE: the parts of ultralytics.utils a trainer touches (settings, config dir, logger)."""

import json
import logging
import os
import sys
from pathlib import Path

__all__ = ("SETTINGS", "USER_CONFIG_DIR", "LOGGER", "ASSETS", "ONLINE")

ASSETS = Path(__file__).resolve().parent.parent / "assets"
ONLINE = os.environ.get("YOLO_OFFLINE", "").lower() != "true"
# 8.4: settings and fonts live in YOLO_CONFIG_DIR/Ultralytics (8.3 used YOLO_CONFIG_DIR itself).
USER_CONFIG_DIR = (Path(os.environ["YOLO_CONFIG_DIR"]) if os.environ.get("YOLO_CONFIG_DIR") else Path.home() / ".config") / "Ultralytics"

LOGGER = logging.getLogger("ultralytics")
if not LOGGER.handlers:
    _h = logging.StreamHandler(sys.stdout)  # the real LOGGER writes to stdout too
    _h.setFormatter(logging.Formatter("%(message)s"))
    LOGGER.addHandler(_h)
    LOGGER.setLevel(logging.INFO if os.environ.get("YOLO_VERBOSE", "true").lower() != "false" else logging.ERROR)
    LOGGER.propagate = False


class SettingsManager(dict):
    """settings.json in USER_CONFIG_DIR; integrations default to on, like the real one."""

    def __init__(self, file):
        self.file = Path(file)
        defaults = {
            "settings_version": "0.0.6",
            "datasets_dir": str(Path.cwd() / "datasets"),
            "weights_dir": str(Path.cwd() / "weights"),
            "runs_dir": str(Path.cwd() / "runs"),
            "uuid": "fake",
            "sync": True,
            "api_key": "",
            "openai_api_key": "",
            "clearml": True,
            "comet": True,
            "dvc": True,
            "hub": True,
            "mlflow": True,
            "neptune": True,
            "raytune": True,
            "tensorboard": False,
            "wandb": False,
            "vscode_msg": True,
            "openvino_msg": True,
        }
        super().__init__(defaults)
        if self.file.exists():
            try:
                super().update(json.loads(self.file.read_text()))
            except ValueError:
                pass
        else:
            self._save()
            LOGGER.info(f"Creating new Ultralytics Settings v0.0.6 file ✅ \nView Ultralytics Settings at '{self.file}'")

    def _save(self):
        self.file.parent.mkdir(parents=True, exist_ok=True)
        self.file.write_text(json.dumps(dict(self), indent=2))

    def update(self, *args, **kwargs):
        for arg in args:
            kwargs.update(arg)
        for k, v in kwargs.items():
            if k not in self:
                raise KeyError(f"No Ultralytics setting '{k}'. View settings at {self.file}")
            if not isinstance(v, type(self[k])):
                raise TypeError(f"Ultralytics setting '{k}' must be '{type(self[k]).__name__}' type, not '{type(v).__name__}'")
        super().update(kwargs)
        self._save()


SETTINGS = SettingsManager(USER_CONFIG_DIR / "settings.json")


def colorstr(*parts):
    return f"\x1b[34m\x1b[1m{parts[-1]}\x1b[0m"
