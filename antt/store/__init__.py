"""What a run keeps under --out besides its outputs: the history database, the per-cycle lock, crash checkpoints."""
