"""Pure, batched tracking maths: no MQTT, HTTP, files, logging or clock. Entry point: ``Tracker``."""

from fusion.tracking.params import TrackerParams
from fusion.tracking.scan import MeasurementBlock, Scan
from fusion.tracking.tracker import Ended, StepResult, Tracker
from fusion.tracking.tracks import STATUS_NAMES, TrackTable, track_id

__all__ = ["STATUS_NAMES", "Ended", "MeasurementBlock", "Scan", "StepResult", "TrackTable", "Tracker",
           "TrackerParams", "track_id"]
