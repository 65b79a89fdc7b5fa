"""The field: strew against the other Python task queues on Redis (issue 18 §6).

One adapter module per library (``bench/field/<library>.py``), each the idiomatic fastest way
to use that library as its documentation describes; `harness` runs them. Every adapter has:

- ``producer()``: an async context manager yielding ``enqueue(indices, dues)``, which puts
  ``noop(i)`` for each index on the queue (``dues``: epoch seconds each should start, or None
  for now), with the library's batch API where it has one;
- ``worker_command(concurrency)``: the library's own worker command, run as a subprocess;
- ``DELAYED``: None when the library can run a task at a future time, else why not;
- ``CONCURRENCY``: how the worker's concurrency is set, and what the task is (async or sync).

Every task is ``noop(i)``, whose one statement is `record.record(i)`.
"""
