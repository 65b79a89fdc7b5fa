"""The chaos suite: a real workload under worker kills and Redis restarts, checked for loss.

``chaos/run [--short|--long] [--seed N]`` (or ``python -m chaos``) starts a Redis of its own
with AOF on, producer and worker processes, kills and restarts them while tasks flow, and at
the end compares what the producers scheduled with what the workers started. See
docs/chaos.md.
"""
