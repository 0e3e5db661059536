"""KWq8 backend toolkit."""

__version__ = "0.1.0"
