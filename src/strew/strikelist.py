"""pydocket's ``docket.strikelist`` names, for code that imports them from there."""

from strew.docket.strikelist import (
    LiteralOperator,
    Operator,
    ParameterStrikes,
    Restore,
    Strike,
    StrikeList,
    TaskStrikes,
)

__all__ = [
    "LiteralOperator",
    "Operator",
    "ParameterStrikes",
    "Restore",
    "Strike",
    "StrikeList",
    "TaskStrikes",
]
