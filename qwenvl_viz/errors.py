"""The one error class for user mistakes (bad media, bad parameters).

Every message says what was wrong, the value, what is allowed and, where there is one, the fix:
``aspect ratio 250.0 (height=10, width=2500) exceeds 200; crop or pad the image first``.
The UI and the CLI show ``str(err)`` as is; nothing else should reach a user.
"""

from __future__ import annotations

__all__ = ["VizError"]


class VizError(ValueError):
    """A user-facing error: bad input file or bad parameter combination.

    ``field`` names the control or argument at fault (``"max_pixels"``, ``"media"``) so the UI
    can show the message next to it.
    """

    def __init__(self, message: str, *, field: str = "media") -> None:
        super().__init__(message)
        self.field = field
