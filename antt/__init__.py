"""antt: the "An toàn về an ninh, trật tự" school compliance pipeline."""

__version__ = "0.1.0"
