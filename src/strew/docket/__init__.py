"""ADD: the `Docket` (task registry, add / replace / cancel), and what it reads and steers
besides its tasks: strikes, snapshots, the quarantine."""

from strew.docket.docket import Docket

__all__ = ["Docket"]
