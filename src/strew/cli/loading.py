"""Finding task functions from an import string such as ``myapp.tasks:all_tasks``: the
docket's registry does it (`Docket.register_collection` reads the same strings)."""

from __future__ import annotations

from strew.docket.registry import TaskImportError, import_tasks

__all__ = ["TaskImportError", "import_tasks"]
