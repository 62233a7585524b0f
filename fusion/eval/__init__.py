"""Tracking evaluation: pure metrics of a tracker's output against the simulated truth.

No MQTT, HTTP or clock; recordings are read through ``fusion.protocol`` only. See
``docs/evaluation.md`` for the definitions.
"""

from fusion.eval.data import Coverage, Detected, EstimateFrame, Estimates, Truth
from fusion.eval.gospa import Gospa, gospa
from fusion.eval.metrics import (
    Evaluation,
    FalseDroneTrack,
    GospaParams,
    ObjectResult,
    evaluate,
    evaluation_times,
)
from fusion.eval.recordings import (
    ScenarioRecording,
    estimates_of,
    read_scenario,
    read_tracks,
)
from fusion.eval.report import summary, table, to_json

__all__ = [
    "Coverage", "Detected", "EstimateFrame", "Estimates", "Evaluation", "FalseDroneTrack", "Gospa", "GospaParams",
    "ObjectResult", "ScenarioRecording", "Truth", "estimates_of", "evaluate", "evaluation_times", "gospa",
    "read_scenario", "read_tracks", "summary", "table", "to_json",
]
