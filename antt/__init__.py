"""antt: the school safety and security (ANTT) compliance pipeline."""

__version__ = "0.1.0"
