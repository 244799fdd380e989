"""Send a job's log records, warnings and progress bars to its log file."""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

__all__ = ["log_to"]


@contextlib.contextmanager
def log_to(path: str | Path | None, level: int = logging.INFO):
    """Route ``logging`` and ``sys.stderr`` (tqdm's default stream) to ``path`` for the block.

    With ``path=None`` everything stays on the terminal. Exceptions are logged with their
    traceback before they propagate, so the log says why a job failed.
    """
    if path is None:
        logging.basicConfig(level=level, format="%(asctime)s %(name)s: %(message)s")
        yield
        return
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", buffering=1) as stream, contextlib.redirect_stderr(stream):
        handler = logging.StreamHandler(stream)
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s: %(message)s"))
        root = logging.getLogger()
        root.addHandler(handler)
        root.setLevel(level)
        try:
            yield
        except SystemExit:  # an expected error, already reported in one line
            raise
        except BaseException:
            logging.getLogger("fedmix").exception("job failed")
            raise
        finally:
            root.removeHandler(handler)
