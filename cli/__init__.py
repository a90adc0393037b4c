"""The ``sendwatch`` command-line tool and the local tooling behind it: the local stack
(``sendwatch up``), the Tansu and Apache Kafka runners, the development mail sink, the
benchmark and the AsyncAPI generator.  It sits on top: it imports the services, and
nothing under ``services/``, ``sendwatch/`` or ``contracts/`` imports it."""
