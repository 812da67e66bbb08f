"""``SphinxProcessor``: a Record or a prompt -> model inputs, the one preprocessing path.

Training, evaluation, chat, the server and the data inspector all build samples here, so the text,
the image slots and the tiles the model sees are the same everywhere. It follows the transformers
processor convention: ``save_pretrained(dir)`` writes ``processor_config.json`` and the tokenizer
files, ``from_pretrained(dir)`` rebuilds exactly the same preprocessing (an exported model folder
holds both).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig
from PIL import Image

from sphinx_x.data.collate import Collator
from sphinx_x.data.dataset import Sample
from sphinx_x.data.geometry import ImageFrame, write_regions
from sphinx_x.data.images import DEFAULT_MAX_PIXELS, load_image
from sphinx_x.data.records import Record, RecordError, validate_record
from sphinx_x.data.templates import build_template
from sphinx_x.data.tiling import VisualLayout, layout_from_dict
from sphinx_x.data.tokenize import ConversationTokenizer, TokenizedSample, load_tokenizer
from sphinx_x.data.video import VideoSettings, is_video, load_video

PROCESSOR_CONFIG = "processor_config.json"


class SphinxProcessor:
    """Loads a record's images, tiles them, writes its regions in the model frame and tokenises."""

    def __init__(self, tokenizer: Any, layout: VisualLayout, template: str = "sphinx",
                 system_prompt: str | None = None, max_length: int = 4096,
                 max_image_pixels: int | None = DEFAULT_MAX_PIXELS, video: VideoSettings | None = None):
        self.tokenizer = tokenizer
        self.layout = layout
        self.template_name = template
        self.system_prompt = system_prompt
        self.max_length = max_length
        self.max_image_pixels = max_image_pixels
        self.video = video or VideoSettings()  # a video file among the images: its frames as one image
        self.template = build_template(template, tokenizer, system_prompt)
        self.text = ConversationTokenizer(tokenizer, self.template, max_length, layout)
        self.tiler = layout.tiler()

    @classmethod
    def from_config(cls, tokenizer: Any, model_cfg: DictConfig, data_cfg: DictConfig) -> SphinxProcessor:
        """From the composed Hydra ``model`` and ``data`` configs (the training-time path)."""
        return cls(tokenizer, VisualLayout.from_model_config(model_cfg), template=data_cfg.template,
                   system_prompt=data_cfg.get("system_prompt"), max_length=int(data_cfg.max_length),
                   max_image_pixels=data_cfg.get("max_image_pixels", DEFAULT_MAX_PIXELS),
                   video=VideoSettings.from_config(data_cfg.get("video")))

    @property
    def pad_id(self) -> int:
        return self.text.pad_id

    # ------------------------------------------------------------------ samples
    def __call__(self, record: Record) -> Sample:
        """A training sample: labels on the answers, cut at turn boundaries when too long. A record
        that breaks the contract in any field, or whose images cannot be used, is a RecordError."""
        validate_record(record)  # every field's type, before a path is opened
        images = [self.load_visual(path, record["id"]) for path in record.get("images", [])]
        validate_record(record, [image.size for image in images])
        frames, keeps, messages = self._in_model_frame(record, images)
        return self._sample(record, images, frames, keeps, self.text(messages, keeps, record["id"]))

    def prompt(self, record: Record, images: Sequence[Image.Image] | None = None) -> Sample:
        """A generation prompt: the record's messages end with the user turn to answer."""
        if images is None:
            images = [self.load_visual(path, record["id"]) for path in record.get("images", [])]
        frames, keeps, messages = self._in_model_frame(record, images)
        tokens = self.text.encode_prompt(messages, keeps)
        if tokens.input_ids.numel() > self.max_length:
            raise RecordError("too_long", f"prompt exceeds max_length={self.max_length}", record["id"])
        return self._sample(record, list(images), frames, keeps, tokens)

    def load_visual(self, path: Any, record_id: str | None) -> Image.Image:
        """An image file, or a video file (by its extension) as one image of its sampled frames."""
        if is_video(path):
            return load_video(path, record_id, self.video, self.max_image_pixels)
        return load_image(path, record_id, self.max_image_pixels)

    def collator(self, source_names: list[str], padding_side: str = "right", pad_to_multiple_of: int = 8,
                 packing: bool = False) -> Collator:
        """The batch collator (picklable, for DataLoader workers); ``packing`` packs samples into rows of
        ``max_length`` tokens."""
        return Collator(self.pad_id, source_names, padding_side, pad_to_multiple_of,  # type: ignore[arg-type]
                        pack_length=self.max_length if packing else None)

    def _in_model_frame(self, record: Record, images: Sequence[Image.Image]
                        ) -> tuple[list[ImageFrame], list[list[bool]], list[dict[str, str]]]:
        """Each image's frame and keep mask, and the messages with regions written in those frames."""
        frames = [self.layout.frame(*image.size) for image in images]
        keeps = [self.layout.keep_mask(frame) for frame in frames]
        messages = write_regions(record["messages"], record.get("regions", []), frames)
        return frames, keeps, self.layout.tag_images(messages)

    def _sample(self, record: Record, images: list[Image.Image], frames: list[ImageFrame], keeps: list[list[bool]],
                tokens: TokenizedSample) -> Sample:
        used = range(tokens.num_images)
        tiles = [self.tiler(images[i], frames[i], keeps[i]) for i in used]
        side = self.layout.tile_pixels
        pixels = torch.cat(tiles) if tiles else torch.empty(0, 3, side, side, dtype=torch.uint8)
        return Sample(
            id=record["id"], source=record.get("source", "prompt"), input_ids=tokens.input_ids, labels=tokens.labels,
            slot_kind=tokens.slot_kind, pixels=pixels, frames=[frames[i] for i in used],
            num_tiles=sum(len(keeps[i]) for i in used), num_skipped=sum(k.count(False) for k in keeps[: len(used)]),
        )

    # ------------------------------------------------------------------ save / load
    def to_dict(self) -> dict[str, Any]:
        return {"template": self.template_name, "system_prompt": self.system_prompt, "max_length": self.max_length,
                "max_image_pixels": self.max_image_pixels, "layout": self.layout.to_dict(),
                "video": self.video.to_dict()}

    def save_pretrained(self, directory: str | Path) -> Path:
        """Write ``processor_config.json`` and the tokenizer files into ``directory``."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        (out / PROCESSOR_CONFIG).write_text(json.dumps(self.to_dict(), indent=2))
        self.tokenizer.save_pretrained(str(out))
        return out

    @classmethod
    def from_pretrained(cls, directory: str | Path) -> SphinxProcessor:
        """The processor saved by :meth:`save_pretrained` (plain JSON and tokenizer files; no code runs)."""
        path = Path(directory)
        config_file = path / PROCESSOR_CONFIG
        if not config_file.is_file():
            raise FileNotFoundError(f"{path} has no {PROCESSOR_CONFIG}: not a saved SphinxProcessor")
        config = json.loads(config_file.read_text())
        try:
            layout = layout_from_dict(config["layout"])
            pixels = config.get("max_image_pixels", DEFAULT_MAX_PIXELS)
            return cls(load_tokenizer(str(path)), layout, template=str(config["template"]),
                       system_prompt=config.get("system_prompt"), max_length=int(config["max_length"]),
                       max_image_pixels=None if pixels is None else int(pixels),
                       video=VideoSettings.from_config(config.get("video")))
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"{config_file}: not a valid processor config ({e})") from e
