"""CLAIM -> RUN -> ACK: the `Worker` that claims due tasks, runs them and acknowledges them."""

from strew.worker.worker import Worker

__all__ = ["Worker"]
