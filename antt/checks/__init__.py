"""Validation: an expectation suite generated from the form, and the issue rows it yields."""
