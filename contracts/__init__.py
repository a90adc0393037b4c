"""Versioned event contracts and configuration for sendwatch.

Everything that crosses a service boundary is defined here: the CloudEvents-style
envelope, the SEN2-vocabulary case events, the topic catalogue and the source-system
registry.  The YAML files next to this module are configuration a council can change
without a release.
"""

from contracts.case_events import CASE_EVENT_TYPES, CaseEvent, parse_case_event
from contracts.envelope import SCHEMA_VERSION, Envelope

__all__ = ["CASE_EVENT_TYPES", "SCHEMA_VERSION", "CaseEvent", "Envelope", "parse_case_event"]
