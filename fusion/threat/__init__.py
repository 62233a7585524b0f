"""Threat scoring and alert decisions: pure, driven by fusion time."""

from fusion.threat.assess import LEVELS, AlertEvent, AlertLog, Assessment, ThreatParams, TrackGeo, assess

__all__ = ["LEVELS", "AlertEvent", "AlertLog", "Assessment", "ThreatParams", "TrackGeo", "assess"]
