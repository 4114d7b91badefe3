"""Prefect flows: orchestration only. The work is in antt.pipeline."""
