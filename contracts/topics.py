"""Topic catalogue, loaded from ``topics.yaml`` (or ``SENDWATCH_TOPICS_FILE``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict

_DEFAULT = Path(__file__).with_name("topics.yaml")


class TopicSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    partitions: int
    key: str
    producer: str
    consumers: list[str]
    contract: str | None
    description: str


class TopicCatalogue(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int
    topics: dict[str, TopicSpec]

    def __getitem__(self, logical: str) -> TopicSpec:
        return self.topics[logical]

    def name(self, logical: str) -> str:
        return self.topics[logical].name


@lru_cache(maxsize=4)
def load_topics(path: str | Path | None = None) -> TopicCatalogue:
    file = Path(path or _DEFAULT)
    return TopicCatalogue.model_validate(yaml.safe_load(file.read_text()))
