"""Pure domain core of the ingest service: validation and authorisation verdicts."""
