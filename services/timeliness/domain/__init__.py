"""Pure domain core of the timeliness service: no I/O, no framework imports."""
