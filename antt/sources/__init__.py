"""Edges that bring responses in. Every source yields the same `RawTable`, so the rules of SPEC §4 apply once."""
