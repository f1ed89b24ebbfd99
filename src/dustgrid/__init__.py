"""DustGrid: the City Brain construction-site dust online control platform."""

__version__ = "0.1.0"
