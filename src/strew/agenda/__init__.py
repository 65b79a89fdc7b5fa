"""SCATTER: the `Agenda`, the pure plan of when each task runs, building its entries, writing
them (all-or-nothing or streamed), and what overdue tasks do after an outage (catch-up)."""

from strew.agenda.agenda import Agenda, AgendaEntry, Scattered, ScatterError

__all__ = ["Agenda", "AgendaEntry", "ScatterError", "Scattered"]
