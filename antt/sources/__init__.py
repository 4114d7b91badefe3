"""Edges that bring responses in. Every source yields the same `RawTable`, so docs/spec.md §4 applies once."""
