"""glasscoder: a glass-box agentic coding assistant for open-weight coding models."""

__version__ = "0.1.0"
