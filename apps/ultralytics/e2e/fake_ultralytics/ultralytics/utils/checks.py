"""TEST DOUBLE: check_font behaves like the real one minus the network: no font in USER_CONFIG_DIR means a download,
which the double refuses loudly so a test can see that the trainer failed to avoid it."""

from ultralytics.utils import USER_CONFIG_DIR


def check_font(font="Arial.ttf"):
    file = USER_CONFIG_DIR / font
    if file.exists():
        return file
    raise ConnectionError(
        f"fake_ultralytics: check_font would download https://github.com/ultralytics/assets/releases/download/v0.0.0/{font} "
        f"(not found in {USER_CONFIG_DIR})"
    )
