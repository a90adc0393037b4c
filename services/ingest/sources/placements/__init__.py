"""Case-management placement extracts (``sendwatch import placements``)."""
