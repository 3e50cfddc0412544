"""newsletter: RSS/Atom feeds in, one trustworthy weekly email out."""

__version__ = "0.1.0"
