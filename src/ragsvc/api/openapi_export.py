"""Write the OpenAPI document (`make openapi`); a test checks the committed copy is current."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from ragsvc.api.app_factory import create_app
from ragsvc.core.config import Settings


def openapi_document() -> dict[str, Any]:
    return create_app(Settings()).openapi()


def render() -> str:
    return json.dumps(openapi_document(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    Path(sys.argv[1]).write_text(render())
