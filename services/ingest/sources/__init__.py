"""Source systems that post to ingest: the SEN2 return import and the simulated county.
They hold to the contract ingest enforces, and reach it only over its HTTP API."""
