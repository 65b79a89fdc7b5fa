"""What strew tells the outside while it works: Prometheus metrics and OpenTelemetry spans,
each declared once and emitted from the lifecycle points of producers and workers."""
