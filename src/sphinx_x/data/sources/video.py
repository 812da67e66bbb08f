"""Video conversations (the layout of Video-ChatGPT / VideoChat2 / LLaVA-Video style instruction sets).

Layout: a JSON list or JSONL of ``{"id"?, "video": "<path under image_root>", "conversations":
[{"from": "human", "value": "<video>\\nWhat happens?"}, {"from": "gpt", "value": "..."}, ...]}``.
``<video>`` (or ``<image>``) marks where the video goes; without one it goes before the first question.
The Record names the video file among its ``images``; the processor turns it into one image of its
sampled frames (:mod:`sphinx_x.data.video`).

Rejects: a path that is not a string or leaves ``image_root`` (absolute, ``..``), or that has no video
extension, is ``bad_video_path``; a missing file ``missing_video``; with ``options.probe`` (default true)
a file PyAV cannot open, or one without a video stream, ``unreadable_video``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sphinx_x.data.prompts import PromptPool
from sphinx_x.data.records import IMAGE_TOKEN, Record, RecordError, make_record, short_repr
from sphinx_x.data.sources.base import SourceSpec, register_reader
from sphinx_x.data.sources.conversations import convert_each, turns_to_messages
from sphinx_x.data.sources.values import SourceOptionError, text
from sphinx_x.data.video import VIDEO_EXTENSIONS

VIDEO_TOKEN = "<video>"


def video_path(value: Any, root: Path, rid: str) -> str:
    """``value`` resolved under ``root``: a relative path to a file with a video extension that stays inside."""
    relative = text(value, "video", rid, reason="bad_video_path")
    if "\x00" in relative or Path(relative).is_absolute():
        raise RecordError("bad_video_path", f"must be relative to the video root: {short_repr(relative)}", rid)
    path = (root / relative).resolve()
    if not path.is_relative_to(root.resolve()):
        raise RecordError("bad_video_path", f"leaves the video root {root}: {short_repr(relative)}", rid)
    if path.suffix.lower() not in VIDEO_EXTENSIONS:
        raise RecordError("bad_video_path", f"not a video file ({sorted(VIDEO_EXTENSIONS)}): {short_repr(relative)}", rid)
    if not path.is_file():
        raise RecordError("missing_video", str(path), rid)
    return str(path)


def probe_video(path: str, rid: str) -> None:
    """Open the container and find a video stream (headers only, nothing decoded)."""
    import av

    try:
        with av.open(path) as container:
            if not container.streams.video:
                raise RecordError("unreadable_video", f"{path}: no video stream", rid)
    except RecordError:
        raise
    except Exception as e:  # untrusted bytes: av.error.* and friends
        raise RecordError("unreadable_video", f"{path}: {type(e).__name__}: {short_repr(str(e), 200)}", rid) from None


@register_reader("video_json")
def read_video_json(spec: SourceSpec, prompts: PromptPool) -> Iterator[Record | RecordError]:
    """One Record per video conversation; the video's frames become one image at sample time."""
    probe = spec.options.get("probe", True)
    if not isinstance(probe, bool):
        raise SourceOptionError(f"data.sources.{spec.name}.options.probe: must be true or false, got {probe!r}")
    root = Path(spec.image_root) if spec.image_root else Path(spec.path).parent

    def convert(item: dict[str, Any], rid: str) -> Record:
        rid = f"{spec.name}/{rid}"
        messages = turns_to_messages(item.get("conversations"), rid)
        path = video_path(item.get("video"), root, rid)
        if probe:
            probe_video(path, rid)
        messages = [{**m, "content": m["content"].replace(VIDEO_TOKEN, IMAGE_TOKEN)} for m in messages]
        first_user = next((m for m in messages if m["role"] == "user"), None)
        if first_user is not None and not any(IMAGE_TOKEN in m["content"] for m in messages):
            first_user["content"] = f"{IMAGE_TOKEN}\n{first_user['content']}"
        return make_record(rid, spec.name, spec.task, messages, [path])

    return convert_each(spec, convert)
