"""The alerts service layer: one handler per message or command over a unit of work."""
