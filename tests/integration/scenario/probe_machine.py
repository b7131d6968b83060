"""The machine most scenario tests run, as scenario YAML: one fake sensor ``probe`` whose
Readings are captured at ``hz``, and a data manager with ``attributes``."""

from __future__ import annotations

import json


def probe_machine(hz: float, **attributes: object) -> str:
    """``machine:`` and its document (the attributes as a JSON flow mapping, which is YAML)."""
    return f"""
machine:
  components:
    - name: probe
      type: sensor
      model: fake
      service_configs:
        - type: data_manager
          attributes:
            capture_methods: [{{method: Readings, capture_frequency_hz: {hz}}}]
  services:
    - name: data_manager
      type: data_manager
      attributes: {json.dumps(attributes)}
"""
