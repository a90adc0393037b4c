"""Pure domain core of the reporting service."""
