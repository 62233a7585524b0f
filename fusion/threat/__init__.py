"""Threat scoring and alert decisions: pure, driven by fusion time."""

from fusion.threat.assess import (
    LEVELS,
    AlertEvent,
    Assessment,
    ThreatMonitor,
    ThreatParams,
    TrackGeo,
    step_levels,
)
from fusion.threat.zones import ZONE_KINDS, ZoneSet, ZoneSpec, parse_zones

__all__ = ["LEVELS", "ZONE_KINDS", "AlertEvent", "Assessment", "ThreatMonitor", "ThreatParams", "TrackGeo",
           "ZoneSet", "ZoneSpec", "parse_zones", "step_levels"]
