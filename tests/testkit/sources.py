"""Dataset-reader helpers: source specs built from the real configs, read in full, and rendered.

Fixture files (JSON, JSON lines, images) are written with :mod:`tests.testkit.files`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

import sphinx_x.conf
from sphinx_x.data.prompts import PromptPool
from sphinx_x.data.records import REGION_PATTERN, Record, RecordError, validate_record
from sphinx_x.data.sources import READERS, SourceSpec

CONF = Path(sphinx_x.conf.__file__).parent
SOURCE_CONFIGS = CONF / "data" / "source"
# fixed=True: every task uses its first (verbatim) prompt, so tests can spell records out.
PROMPTS = PromptPool(fixed=True)


def load_spec(name: str, data_root: Path, **options: Any) -> SourceSpec:
    """``sphinx_x/conf/data/source/<name>.yaml`` with ``paths.data_root`` = ``data_root`` and options overridden."""
    root = OmegaConf.create({"paths": {"data_root": str(data_root)},
                             "source": OmegaConf.load(SOURCE_CONFIGS / f"{name}.yaml")})
    values = OmegaConf.to_container(root.source, resolve=True)
    values["options"] = {**values["options"], **options}
    return SourceSpec(**values)


def read(spec: SourceSpec, prompts: PromptPool = PROMPTS) -> tuple[list[Record], list[tuple[str, str | None]]]:
    """(records, [(reason, record id, else its ``<file>:<line>``)]) of the spec's reader; every record
    honours the contract."""
    records, errors = [], []
    for item in READERS[spec.reader](spec, prompts):
        if isinstance(item, RecordError):
            errors.append((item.reason, item.record_id or item.where))
        else:
            validate_record(item)
            json.dumps(item)
            records.append(item)
    return records, errors


def render(text: str, record: Record, frame: Any) -> str:
    """``text`` with its ``<region:K>`` written the way the tokeniser writes them in ``frame``."""

    def write(match: Any) -> str:
        region = record["regions"][int(match.group(1))]
        return frame.box_to_text(region["box"]) if "box" in region else frame.point_to_text(region["point"])

    return REGION_PATTERN.sub(write, text)


def turns(*texts: str) -> list[dict[str, str]]:
    """Alternating user / assistant messages."""
    return [{"role": "user" if i % 2 == 0 else "assistant", "content": t} for i, t in enumerate(texts)]
