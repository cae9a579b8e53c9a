"""Where the data kept beside the repository lives: ``../shared`` (the semantic-conventions JSON and its schemas,
the recorded cassettes), shared by every clone of the project rather than copied into each.

``LLMTEL_SHARED_DIR`` names another directory; it exists for the tests themselves, to run the suite as a clone
without ``../shared`` beside it runs (``LLMTEL_SHARED_DIR=/nonexistent``) without moving the real one.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["SHARED_DIR", "SHARED_DIR_ENV"]

SHARED_DIR_ENV = "LLMTEL_SHARED_DIR"
SHARED_DIR = Path(os.environ.get(SHARED_DIR_ENV, "").strip() or Path(__file__).resolve().parents[2].parent / "shared")
"""Read once, at import: the whole session sees the same data, whatever a test does to the environment."""
