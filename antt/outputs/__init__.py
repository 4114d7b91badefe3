"""Edges that write a cycle's results: files, tables, HTML pages."""
