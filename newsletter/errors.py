"""One exception tree for everything the package raises on purpose."""


class NewsletterError(Exception):
    """Base of all errors raised by newsletter."""


class ConfigError(NewsletterError):
    """The configuration file is missing, malformed or invalid (exit status 2)."""


class StorageError(NewsletterError):
    """The database cannot be opened or is at a schema version we do not know."""


class DatabaseBusy(StorageError):
    """Another process held SQLite's write lock for longer than a write waits."""


class LLMError(NewsletterError):
    """An LLM call failed or returned something unusable; the caller falls back."""


class LLMCancelled(NewsletterError):
    """LLM calls were cancelled because the process is stopping; the build is abandoned."""


class DeliveryError(NewsletterError):
    """Sending an email failed."""


class AddressError(NewsletterError):
    """An email address is not valid; the message names it and says why."""
