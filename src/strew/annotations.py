"""pydocket's ``docket.annotations`` module, by the same name: ``from strew.annotations import
Logged`` works as ``from docket.annotations import Logged`` does."""

from strew.task.annotations import Logged

__all__ = ["Logged"]
