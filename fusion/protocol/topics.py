"""MQTT topic names of protocol v1 under a configurable prefix."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

DEFAULT_PREFIX = "sargas/v1"

TopicKind = Literal["detections", "status", "truth", "tracks", "alerts", "rejected"]


def split_prefix(topic: str) -> tuple[str, str]:
    """A protocol topic under an unknown prefix as (prefix, rest), for recordings made under any prefix.

    The split is before ``/sensors/``, else before the last level: ``a/b/sensors/x/status`` →
    ``("a/b", "sensors/x/status")``, ``a/b/tracks`` → ``("a/b", "tracks")``, ``tracks`` → ``("", "tracks")``.
    """
    head, sep, tail = topic.partition("/sensors/")
    if sep:
        return head, f"sensors/{tail}"
    head, _, tail = topic.rpartition("/")
    return head, tail


@dataclass(frozen=True)
class Topics:
    """Builds and recognises the topics of one deployment."""

    prefix: str = DEFAULT_PREFIX

    def __post_init__(self) -> None:
        if not self.prefix or any(c in self.prefix for c in "+#") or self.prefix.endswith("/"):
            raise ValueError(f"invalid topic prefix {self.prefix!r}: no '+', '#' or trailing '/'")

    def detections(self, sensor_id: str) -> str:
        return f"{self.prefix}/sensors/{sensor_id}/detections"

    def status(self, sensor_id: str) -> str:
        return f"{self.prefix}/sensors/{sensor_id}/status"

    @property
    def all_detections(self) -> str:
        return f"{self.prefix}/sensors/+/detections"

    @property
    def all_status(self) -> str:
        return f"{self.prefix}/sensors/+/status"

    @property
    def everything(self) -> str:
        return f"{self.prefix}/#"

    @property
    def truth(self) -> str:
        return f"{self.prefix}/truth"

    @property
    def tracks(self) -> str:
        return f"{self.prefix}/tracks"

    @property
    def alerts(self) -> str:
        return f"{self.prefix}/alerts"

    @property
    def rejected(self) -> str:
        return f"{self.prefix}/rejected"

    def classify(self, topic: str) -> tuple[TopicKind, str | None] | None:
        """The kind of a topic and its sensor id (for sensor topics), or None if not ours."""
        head = self.prefix + "/"
        if not topic.startswith(head):
            return None
        parts = topic[len(head):].split("/")
        if len(parts) == 3 and parts[0] == "sensors" and parts[1] and parts[2] in ("detections", "status"):
            return ("detections" if parts[2] == "detections" else "status"), parts[1]
        if len(parts) == 1 and parts[0] in ("truth", "tracks", "alerts", "rejected"):
            return parts[0], None  # type: ignore[return-value]
        return None
