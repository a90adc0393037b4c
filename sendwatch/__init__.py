"""sendwatch: real-time SEND partnership performance monitoring and escalation.

This package holds the platform shared by the four services (configuration, the Kafka
and database adapters, metrics, logging), the command-line tool, the local stack, the
simulator and the benchmark.  Each service's own code lives under ``services/``.
"""

__version__ = "0.1.0"
