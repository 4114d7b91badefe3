"""Scoring and ranking: pure functions over DataFrames, every rule read from config."""
