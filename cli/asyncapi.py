"""AsyncAPI documents generated from the services' FastStream brokers."""

from __future__ import annotations

import importlib

import yaml
from faststream.specification import AsyncAPI

from sendwatch.config import SERVICE_PORTS, DatabaseSettings, KafkaSettings, Settings

DOC_BOOTSTRAP = "kafka:9092"  # the docker-compose broker; keeps the documents stable


def render_asyncapi() -> dict[str, str]:
    settings = Settings(
        kafka=KafkaSettings(bootstrap=DOC_BOOTSTRAP), database=DatabaseSettings(url="sqlite://")
    )
    out: dict[str, str] = {}
    for service in sorted(SERVICE_PORTS):
        module = importlib.import_module(f"services.{service}.entrypoint")
        app = module.create_app(module.bootstrap(settings))
        spec = AsyncAPI(
            app.state.runtime.broker,
            title=f"sendwatch {service}",
            version="1.0.0",
            description=f"Kafka messages the {service} service consumes and publishes.",
        )
        # Sorted keys: FastStream's channel order varies between runs.
        out[service] = yaml.safe_dump(
            spec.to_specification().to_jsonable(), sort_keys=True, allow_unicode=True
        )
    return out
