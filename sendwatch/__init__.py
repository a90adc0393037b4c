"""sendwatch: real-time SEND partnership performance monitoring and escalation.

This package is the runtime shared by the four services: configuration (``config``),
the service shell (``service``), the Kafka adapter (``bus``), the consume pipeline
(``consumer``), the inbox (``inbox``), the database (``db``), metrics and logging
(``observability``).  Each service's own code lives under ``services/``; the
command-line tool and local tooling under ``cli/``.
"""

__version__ = "0.1.0"
