"""Errors that reach a person as one line: bad configuration, unusable input, bad invocation."""


class AnttError(Exception):
    """An error whose message is the whole story: the CLI prints it and exits non-zero, no traceback."""


class ConfigError(AnttError):
    """A configuration file is missing, malformed or inconsistent; the message names the file and key."""


class InputError(AnttError):
    """The responses file or the school registry cannot be used at all."""
