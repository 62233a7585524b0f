"""Sensor models: truth in, ``fusion.protocol`` detections and status messages out."""

from __future__ import annotations

from fusion.geo import LocalFrame
from simulators.scenario import AcousticConfig, RadarConfig, RemoteIdConfig, RfDfConfig
from simulators.sensors.acoustic import AcousticArray
from simulators.sensors.base import Sensor
from simulators.sensors.radar import Radar
from simulators.sensors.rf import RemoteIdReceiver, RfDirectionFinder
from simulators.targets import TargetSet

#: The sensor model of each scenario ``kind``.
SENSOR_CLASSES: dict[str, type[Sensor]] = {  # type: ignore[type-arg]
    "radar": Radar,
    "acoustic": AcousticArray,
    "rf_df": RfDirectionFinder,
    "remote_id": RemoteIdReceiver,
}


def build_sensor(config: RadarConfig | AcousticConfig | RfDfConfig | RemoteIdConfig, seed: int,
                 site: LocalFrame, targets: TargetSet) -> Sensor:  # type: ignore[type-arg]
    """The sensor model for one scenario sensor entry."""
    return SENSOR_CLASSES[config.kind](config, seed, site, targets)


__all__ = ["SENSOR_CLASSES", "AcousticArray", "Radar", "RemoteIdReceiver", "RfDirectionFinder", "Sensor",
           "build_sensor"]
