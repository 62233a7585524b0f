"""The wire protocol v1: models, topics, codec and recordings. Nothing else touches wire JSON."""

from fusion.protocol.codec import (
    DEFAULT_MAX_BYTES,
    ProtocolError,
    decode,
    dumps,
    encode,
    encode_tracks,
    load_json,
    to_dict,
    validate,
)
from fusion.protocol.models import (
    Alert,
    Coverage,
    Detection,
    DetectionsMessage,
    Message,
    Position,
    Rejected,
    Sector,
    SensorStatus,
    Sigma,
    Strobe,
    Threat,
    Track,
    TracksMessage,
    TruthMessage,
    TruthObject,
    Velocity,
)
from fusion.protocol.recording import RecordingError, RecordingWriter, RecordLine, read_recording
from fusion.protocol.topics import DEFAULT_PREFIX, Topics

__all__ = [
    "DEFAULT_MAX_BYTES", "DEFAULT_PREFIX", "Alert", "Coverage", "Detection", "DetectionsMessage", "Message",
    "Position", "ProtocolError", "RecordLine", "RecordingError", "RecordingWriter", "Rejected", "Sector", "SensorStatus",
    "Sigma", "Strobe", "Threat", "Topics", "Track", "TracksMessage", "TruthMessage", "TruthObject", "Velocity", "decode",
    "dumps", "encode", "encode_tracks", "load_json", "read_recording", "to_dict", "validate",
]
