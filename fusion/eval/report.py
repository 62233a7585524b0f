"""An evaluation as plain data (for ``--json`` and scripts) and as a readable text table."""

from __future__ import annotations

from typing import Any

import numpy as np

from fusion.eval.metrics import Evaluation, FalseDroneTrack


def _mean(values: list[float]) -> float | None:
    return float(np.mean(values)) if values else None


def _rounded(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(float(value), digits)


def summary(ev: Evaluation) -> dict[str, Any]:
    """The headline metrics: mean GOSPA and its parts (mean p-th powers, m², they add up to the
    mean squared GOSPA for p = 2), counts, time to confirm and label accuracy."""
    confirm = ev.confirm_times()
    return {
        "gospa": {"c_m": ev.params.c, "p": ev.params.p, "alpha": ev.params.alpha, "times": len(ev.times),
                  "mean_m": _rounded(ev.gospa_mean),
                  "localisation_part": _rounded(float(np.mean(ev.localisation)) if len(ev.times) else 0.0),
                  "missed_part": _rounded(float(np.mean(ev.missed)) if len(ev.times) else 0.0),
                  "false_part": _rounded(float(np.mean(ev.false)) if len(ev.times) else 0.0),
                  "localisation_rms_m": _rounded(ev.localisation_rms_m),
                  "missed_mean": _rounded(float(np.mean(ev.n_missed)) if len(ev.times) else 0.0),
                  "false_mean": _rounded(float(np.mean(ev.n_false)) if len(ev.times) else 0.0)},
        "id_switches": ev.id_switches,
        "id_swaps": ev.id_swaps,
        "tracks": ev.tracks,
        "false_tracks": ev.false_tracks,
        "false_drone_tracks": ev.false_drone_tracks,
        "duplicate_drone_tracks": ev.duplicate_drone_tracks,
        "label_accuracy": _rounded(ev.label_accuracy),
        "time_to_confirm": {"from": ev.detection_source, "mean_s": _rounded(_mean(confirm)),
                            "max_s": _rounded(max(confirm) if confirm else None),
                            "unconfirmed": ev.unconfirmed()},
    }


def false_drones(ev: Evaluation) -> list[dict[str, Any]]:
    """Each false drone track: when it was labelled drone falsely (``first``, ``last``: times as in the tracks
    messages), how many evaluation times, on which non-drone objects, whether on none too (``alone``) and then the
    nearest object present (null: none was)."""
    return [{"track_id": f.track_id, "first": f.first, "last": f.last, "times": f.times, "on": list(f.on),
             "alone": f.alone, "nearest_m": _rounded(f.nearest_m, 1)} for f in ev.false_drone_list]


def to_json(ev: Evaluation) -> dict[str, Any]:
    """The summary, the false drone tracks (``false_drones``) and one entry per truth object."""
    objects = [{"id": o.id, "label": o.label, "first_detection": o.first_detection,
                "second_sensor": o.second_sensor, "confirmed_at": o.confirmed_at,
                "time_to_confirm_s": _rounded(o.time_to_confirm),
                "time_to_confirm_two_sensors_s": _rounded(o.time_to_confirm_two_sensors),
                "rms_error_m": _rounded(o.rms_error_m), "frames": o.frames, "matched": o.matched,
                "id_switches": o.id_switches} for o in ev.objects]
    return {**summary(ev), "false_drone_track_list": false_drones(ev), "objects": objects}


def _fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _false_drone_text(f: FalseDroneTrack, start: float) -> str:
    """When and on what one false drone track was labelled drone, times in seconds from ``start``."""
    on = [f"on {', '.join(f.on)}"] if f.on else []
    far = "no object present" if f.nearest_m is None else f"{f.nearest_m:.0f} m or more from every object"
    alone = [f"on nothing, {far}"] if f.alone else []
    return (f"labelled drone from {f.first - start:.1f} to {f.last - start:.1f} s ({f.times} times): "
            f"{'; '.join(on + alone)}")


def table(ev: Evaluation) -> str:
    """The metrics and the per-object results as aligned text."""
    s = summary(ev)
    g, ttc = s["gospa"], s["time_to_confirm"]
    source = "truth_id" if ev.detection_source == "truth_id" else "first time in sensor coverage"
    rows = [
        (f"GOSPA mean, m (c={g['c_m']:g} m, p={g['p']:g}, alpha={g['alpha']:g}; {g['times']} times)", _fmt(g["mean_m"])),
        ("  localisation part, m² (mean)", _fmt(g["localisation_part"])),
        ("  missed part, m² (mean)", _fmt(g["missed_part"])),
        ("  false part, m² (mean)", _fmt(g["false_part"])),
        ("  localisation RMS of assigned pairs, m", _fmt(g["localisation_rms_m"])),
        ("  missed objects per time (mean)", _fmt(g["missed_mean"], 2)),
        ("  false tracks per time (mean)", _fmt(g["false_mean"], 2)),
        ("ID switches", str(s["id_switches"])),
        ("  of which swaps (to a track last on another object)", str(s["id_swaps"])),
        ("established tracks", str(s["tracks"])),
        ("false tracks (never assigned)", str(s["false_tracks"])),
        ("false drone tracks (labelled drone, from a bird, aircraft or clutter)", str(s["false_drone_tracks"])),
        *((f"  {f.track_id}", _false_drone_text(f, ev.start)) for f in ev.false_drone_list),
        ("duplicate drone tracks (false tracks labelled drone only beside a drone)", str(s["duplicate_drone_tracks"])),
        ("label accuracy (assigned pairs)", _fmt(s["label_accuracy"], 3)),
        (f"time to confirm, mean / max, s (first detection: {source})",
         f"{_fmt(ttc['mean_s'])} / {_fmt(ttc['max_s'])}"),
        ("objects never confirmed", ", ".join(ttc["unconfirmed"]) or "none"),
    ]
    width = max(len(name) for name, _ in rows)
    lines = [f"{name:<{width}}  {value}" for name, value in rows]
    header = ("object", "label", "to confirm s", "after 2nd sensor s", "RMS err m", "assigned", "ID sw")
    lines += ["", "  ".join(f"{h:>18}" if k else f"{h:<14}" for k, h in enumerate(header))]
    for o in ev.objects:
        if not o.frames:
            continue
        cells = (o.label, _fmt(o.time_to_confirm), _fmt(o.time_to_confirm_two_sensors), _fmt(o.rms_error_m),
                 f"{o.matched / o.frames:.0%}", str(o.id_switches))
        lines.append("  ".join([f"{o.id:<14}", *(f"{c:>18}" for c in cells)]))
    return "\n".join(lines)
