"""venvrpm: a Python application and its locked dependencies as one relocated RPM."""

__version__ = "0.1.0"
