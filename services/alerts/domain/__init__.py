"""Pure domain core of the alerts service."""
