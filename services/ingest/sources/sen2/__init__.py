"""SEN2 import: a DfE SEN2 person-level XML return -> pseudonymous historic case events.

* :mod:`~services.ingest.sources.sen2.parse`: XML -> records + problems (pure, streaming)
* :mod:`~services.ingest.sources.sen2.pseudonymise`: keyed ids, age band, phase, locality (pure)
* :mod:`~services.ingest.sources.sen2.events`: records -> case event dicts (pure)
* :mod:`~services.ingest.sources.sen2.synthetic`: a synthetic return and its expected figures (pure)
* :mod:`~services.ingest.sources.sen2.importer`: posting through ingest, optionally waiting (I/O)
"""
