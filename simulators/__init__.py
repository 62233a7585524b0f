"""Sensor simulators: scenarios of targets and sensors that produce protocol v1 messages.

Output goes live to an MQTT broker (``simulators.runner.run_live``) or into a recording
(``simulators.runner.write_recording``). Simulators import only ``fusion.protocol``,
``fusion.geo`` and ``fusion.mqttlink``, never the tracker.
"""

from simulators.scenario import Scenario, ScenarioError, ScenarioInfo, list_scenarios, load_scenario

__all__ = ["Scenario", "ScenarioError", "ScenarioInfo", "list_scenarios", "load_scenario"]
