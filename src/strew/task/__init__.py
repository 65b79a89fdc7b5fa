"""What one task is: `Execution` and `Disposition`, the envelope a store keeps for it
(codec and keys), time as the stores count it, the checks of what a caller passes, and the
record of how a run ended. Nothing here knows a docket or a worker."""
