"""Where the packaged templates live, installed or in a source checkout."""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path


@cache
def templates_root() -> Path:
    """The ``templates/`` folder: shipped as ``newsletter.templates`` in the wheel.

    A source checkout run without installing (tests with ``pythonpath = .``) has no such
    subpackage, so fall back to the repository's top-level ``templates/``.
    """
    try:
        return Path(str(resources.files("newsletter.templates")))
    except ModuleNotFoundError:
        return Path(__file__).resolve().parent.parent / "templates"
