"""Write one JSON Schema file per event into schemas/json/ (`python -m schemas.export`).

Consumers in other languages validate the streams against these files; a unit
test fails when a model changes and the files were not regenerated.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from schemas.topics import TOPIC_MODELS

SCHEMA_DIR = Path(__file__).parent / "json"


def render_schemas() -> dict[str, str]:
    """File name -> JSON Schema text, for every topic's event model."""
    rendered = {}
    for topic, model in TOPIC_MODELS.items():
        schema = model.model_json_schema(mode="serialization")
        schema["$id"] = f"urn:strategist:event:{topic}:v1"
        schema["x-topic"] = topic
        rendered[f"{topic}.v1.schema.json"] = json.dumps(schema, indent=2, sort_keys=True) + "\n"
    return rendered


def main() -> int:
    SCHEMA_DIR.mkdir(exist_ok=True)
    for name, text in render_schemas().items():
        (SCHEMA_DIR / name).write_text(text)
        print(f"wrote {SCHEMA_DIR / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
