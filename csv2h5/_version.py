"""The one place the version is written; pyproject.toml and both CLIs read it from here."""

__version__ = "0.2.0"
