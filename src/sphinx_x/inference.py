"""Load a trained SPHINX-X and answer prompts: batched, KV-cached generation through the LLM.

Used by evaluation, the terminal chat and the HTTP server alike. A run folder written by
``sphinx_x.train`` (``config.yaml``, ``processor/``, ``checkpoints/*.ckpt``) or an exported folder
(``sphinx_config.json``, ``model.safetensors``, the processor's files) loads the same way; the
prompts are built by the :class:`SphinxProcessor` saved with the run.
"""

from __future__ import annotations

import json
import queue
import sys
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from omegaconf import OmegaConf
from PIL import Image
from safetensors.torch import load_file, save_file
from transformers.generation.stopping_criteria import StoppingCriteria, StoppingCriteriaList
from transformers.generation.streamers import BaseStreamer

from sphinx_x.data.processor import SphinxProcessor
from sphinx_x.model.build import build_sphinx
from sphinx_x.model.init_from import load_init_weights
from sphinx_x.model.llm import prune_experts, set_active_experts
from sphinx_x.model.sphinx import SphinxX
from sphinx_x.runtime.config import checked_build
from sphinx_x.safe_loading import UnsafeLoadError, check_remote_code, load_checkpoint

DESCRIBE_FIRST_PROMPT = "Describe the image in detail."


@dataclass
class GenerationConfig:
    max_new_tokens: int = 64
    do_sample: bool = False
    temperature: float = 1.0
    top_p: float = 1.0
    stop_strings: list[str] = field(default_factory=list)  # added to the template's own stop strings


@dataclass
class Conversation:
    """A prompt: messages ending with a user turn (``<image>`` where each image goes) and its images."""

    messages: list[dict[str, str]]
    images: list[Image.Image] = field(default_factory=list)


@dataclass
class Generation:
    """One answer with what an API response reports about it."""

    text: str
    token_ids: list[int]  # generated ids, padding after an early stop removed
    prompt_tokens: int
    finish_reason: str  # "stop" (end of turn, eos or stop string) or "length" (max_new_tokens reached)


class SphinxInference:
    """A model and its processor, ready to answer batches of conversations."""

    def __init__(self, model: SphinxX, processor: SphinxProcessor, model_cfg: dict[str, Any],
                 device: str | torch.device = "cpu"):
        self.model = model.to(device).eval()
        self.processor = processor
        self.tokenizer = processor.tokenizer
        self.layout = processor.layout
        self.template = processor.template
        self.model_cfg = model_cfg
        self.device = torch.device(device)
        self.collate = processor.collator(["prompt"], padding_side="left", pad_to_multiple_of=1)
        self.lock = threading.Lock()  # one generation at a time (the server answers from several threads)

    # ------------------------------------------------------------------ loading
    @classmethod
    def from_run(cls, path: str | Path, device: str = "cpu", model_config: dict[str, Any] | None = None,
                 active_experts: int | None = None, keep_experts: int | list[int] | None = None,
                 trust_remote_code: bool | None = None) -> SphinxInference:
        """From a training run folder, a checkpoint inside one, or an exported folder.

        ``model_config`` replaces the saved model config; the weights must still fit it. For a MoE
        LLM, ``keep_experts`` prunes the loaded experts and ``active_experts`` sets how many route
        each token (both are written into the config an export saves). Nothing saved runs code:
        checkpoints load with ``weights_only=True``, a saved config's ``trust_remote_code`` needs
        ``trust_remote_code`` here too (see :mod:`sphinx_x.safe_loading`).
        """
        path = Path(path)
        if (path / "sphinx_config.json").exists():
            config = json.loads((path / "sphinx_config.json").read_text())
            state = load_file(str(path / "model.safetensors"))
            processor_dir = path
        else:
            ckpt = path if path.is_file() else _latest_checkpoint(path)
            processor_dir = ckpt.parent.parent / "processor"
            checkpoint = load_checkpoint(ckpt)
            config = {"model": checkpoint["hyper_parameters"]["model"]}
            state = {k.removeprefix("model."): v for k, v in checkpoint["state_dict"].items()}
        if model_config is not None:
            config["model"] = model_config
        else:
            check_remote_code(config["model"], path, trust_remote_code)
        processor = SphinxProcessor.from_pretrained(processor_dir)
        model = build_sphinx(OmegaConf.create(config["model"]), vocab_size=len(processor.tokenizer), load_init=False)
        uncovered = set(model.state_dict()) - set(state)
        if config["model"].get("init_from") and uncovered:  # weights the checkpoint lacks come from the run's start
            load_init_weights(model, config["model"]["init_from"], keys=uncovered)
        missing, unexpected = model.load_state_dict(state, strict=False)
        missing = [k for k in missing if k not in model.frozen_state_keys()]
        if missing or unexpected:
            raise KeyError(f"weights do not match the config: missing {missing[:5]}, unexpected {unexpected[:5]}")
        llm_cfg = config["model"]["llm"]
        if keep_experts is not None:
            checked_build("keep_experts", lambda: prune_experts(model.llm, keep_experts))
            llm_cfg["keep_experts"] = keep_experts
        if active_experts is not None:
            checked_build("active_experts", lambda: set_active_experts(model.llm, int(active_experts)))
            llm_cfg["overrides"] = {**(llm_cfg.get("overrides") or {}), "num_experts_per_tok": int(active_experts)}
        return cls(model, processor, config["model"], device=device)

    def export(self, out_dir: str | Path) -> Path:
        """Write trainable weights (safetensors), the model config and the processor to a folder.

        A model started from ``model.init_from`` is written whole (frozen encoders included), so the
        export loads without the folder it started from; ``init_from`` stays in its config as its base.
        """
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        state, seen = {}, set()
        whole = bool(self.model_cfg.get("init_from"))
        for key, value in (self.model.state_dict() if whole else self.model.trainable_state_dict()).items():
            shared = value.untyped_storage().data_ptr() in seen  # tied weights (e.g. lm_head = embeddings)
            seen.add(value.untyped_storage().data_ptr())
            state[key] = value.clone() if shared else value.contiguous()
        save_file(state, str(out / "model.safetensors"))
        (out / "sphinx_config.json").write_text(json.dumps({"model": self.model_cfg}, indent=2))
        self.processor.save_pretrained(out)
        return out

    # ------------------------------------------------------------------ generation
    def generate(self, conversations: Sequence[Conversation], config: GenerationConfig | None = None) -> list[str]:
        """Answer each conversation's last user turn (left-padded batch, KV cache)."""
        return [g.text for g in self.generate_full(conversations, config)]

    @torch.no_grad()
    def generate_full(self, conversations: Sequence[Conversation], config: GenerationConfig | None = None,
                      streamer: BaseStreamer | None = None, cancel: threading.Event | None = None) -> list[Generation]:
        """Like :meth:`generate`, with the generated token ids, prompt lengths and finish reasons.

        Setting ``cancel`` (from any thread) stops generation after the current token and raises
        :class:`GenerationCancelled` (e.g. the client of a server went away).
        """
        config = config or GenerationConfig()
        samples = [self.processor.prompt({"id": str(i), "messages": c.messages}, c.images)
                   for i, c in enumerate(conversations)]
        batch = self.collate(samples).to(self.device)
        stops = self.stop_strings(config)
        sampling = {"temperature": config.temperature, "top_p": config.top_p} if config.do_sample else {}
        criteria = StoppingCriteriaList([_Cancelled(cancel)]) if cancel is not None else None
        with self.lock:
            if cancel is not None and cancel.is_set():
                raise GenerationCancelled(0)
            embeds = self.model.embed(batch.input_ids, batch.slot_kind, batch.pixels)
            self.model.set_visual_positions(batch.slot_kind)  # partial LoRA: the prompt's image slots
            output = self.model.llm.generate(
                inputs_embeds=embeds, attention_mask=batch.attention_mask, max_new_tokens=config.max_new_tokens,
                do_sample=config.do_sample, pad_token_id=self.tokenizer.pad_token_id,
                eos_token_id=self.tokenizer.eos_token_id, stop_strings=stops or None, tokenizer=self.tokenizer,
                streamer=streamer, stopping_criteria=criteria, **sampling)  # (batch, new tokens) with inputs_embeds
        if cancel is not None and cancel.is_set():
            raise GenerationCancelled(output.shape[1])
        return [self._finish(row, int(n), stops, config.max_new_tokens)
                for row, n in zip(output.tolist(), batch.attention_mask.sum(dim=1).tolist(), strict=True)]

    def stop_strings(self, config: GenerationConfig) -> list[str]:
        """The template's end-of-turn strings plus the request's own."""
        return [*self.template.stop_strings, *config.stop_strings]

    def stream(self, conversation: Conversation, config: GenerationConfig | None = None,
               cancel: threading.Event | None = None) -> GenerationStream:
        """Generate one answer in a background thread; iterate the result for text pieces as they come
        (:meth:`GenerationStream.cancel` or setting ``cancel`` stops it)."""
        return GenerationStream(self, conversation, config or GenerationConfig(), cancel)

    def _finish(self, ids: list[int], prompt_tokens: int, stops: Sequence[str], max_new_tokens: int) -> Generation:
        pad, eos = self.tokenizer.pad_token_id, self.tokenizer.eos_token_id
        ended = eos is not None and eos in ids
        if ended:
            ids = ids[: ids.index(eos) + 1]
        while ids and ids[-1] == pad and pad != eos:
            ids = ids[:-1]  # rows that stopped early are padded to the batch's length
        raw = self.tokenizer.decode(ids, skip_special_tokens=True)
        stopped = ended or any(s and s in raw for s in stops) or len(ids) < max_new_tokens
        return Generation(cut_at_stop(raw, stops), ids, prompt_tokens, "stop" if stopped else "length")

    def answer(self, questions: Sequence[str], images: Sequence[Sequence[Image.Image]],
               config: GenerationConfig | None = None, describe_first: bool = False) -> list[str]:
        """Single-turn answers; ``describe_first`` (Lynx) first asks for a detailed description
        and keeps it in the history before the real question."""
        conversations = [Conversation([{"role": "user", "content": q}], list(imgs)) for q, imgs in
                         zip(questions, images, strict=True)]
        if describe_first:
            conversations = self.describe_first(conversations, config)
        return self.generate(conversations, config)

    def describe_first(self, conversations: Sequence[Conversation], config: GenerationConfig | None = None
                       ) -> list[Conversation]:
        firsts = []
        for c in conversations:
            text = c.messages[-1]["content"]
            image_part = "".join(t + "\n" for t in ["<image>"] * text.count("<image>"))
            firsts.append(Conversation([{"role": "user", "content": image_part + DESCRIBE_FIRST_PROMPT}], c.images))
        descriptions = self.generate(firsts, GenerationConfig(max_new_tokens=256) if config is None else config)
        return [Conversation([f.messages[0], {"role": "assistant", "content": d or "."},
                              {"role": "user", "content": c.messages[-1]["content"].replace("<image>", "").strip()}],
                             c.images) for f, d, c in zip(firsts, descriptions, conversations, strict=True)]


class GenerationCancelled(RuntimeError):
    """Generation stopped because its cancel event was set; ``tokens``: how many were generated."""

    def __init__(self, tokens: int):
        super().__init__(f"generation cancelled after {tokens} tokens")
        self.tokens = tokens


class _Cancelled(StoppingCriteria):
    """Stops every row once ``event`` is set (checked after each generated token)."""

    def __init__(self, event: threading.Event):
        self.event = event

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs: Any) -> torch.BoolTensor:
        return torch.full((input_ids.shape[0],), self.event.is_set(), dtype=torch.bool, device=input_ids.device)


class _TokenQueue(BaseStreamer):
    """Receives new token ids from ``generate`` (the first call carries the prompt and is skipped)."""

    def __init__(self) -> None:
        self.queue: queue.Queue[list[int] | None] = queue.Queue()
        self.started = False

    def put(self, value: torch.Tensor) -> None:
        if self.started:
            self.queue.put(value.reshape(-1).tolist())
        self.started = True

    def end(self) -> None:
        self.queue.put(None)


class GenerationStream:
    """Text pieces of one answer as it is generated; stop strings are never shown, even in part.

    After iteration ``result`` holds the :class:`Generation` (the same as :meth:`generate_full`'s).
    """

    def __init__(self, engine: SphinxInference, conversation: Conversation, config: GenerationConfig,
                 cancel: threading.Event | None = None):
        self.engine, self.stops = engine, engine.stop_strings(config)
        self.cancelled = cancel if cancel is not None else threading.Event()
        self.tokens = _TokenQueue()
        self.result: Generation | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, args=(conversation, config), daemon=True)
        self.thread.start()

    def _run(self, conversation: Conversation, config: GenerationConfig) -> None:
        try:
            self.result = self.engine.generate_full([conversation], config, streamer=self.tokens,
                                                    cancel=self.cancelled)[0]
        except BaseException as error:  # surfaced in the consuming thread
            self.error = error
            self.tokens.end()

    def cancel(self) -> None:
        """Stop generating after the current token; iteration then raises :class:`GenerationCancelled`."""
        self.cancelled.set()

    def __iter__(self) -> Iterator[str]:
        ids: list[int] = []
        shown = 0
        while (new := self.tokens.queue.get()) is not None:
            ids += new
            text = self.engine.tokenizer.decode(ids, skip_special_tokens=True).lstrip()
            if any(s and s in text for s in self.stops):
                break
            safe = len(text.rstrip()) - _partial_stop(text.rstrip(), self.stops)
            if text.endswith("\ufffd"):  # an unfinished multi-byte character
                safe = min(safe, len(text) - 1)
            if safe > shown:
                yield text[shown:safe]
                shown = safe
        self.thread.join()
        if self.error is not None:
            raise self.error
        assert self.result is not None
        if len(self.result.text) > shown:
            yield self.result.text[shown:]


def _partial_stop(text: str, stops: Sequence[str]) -> int:
    """Length of the longest end of ``text`` that begins a stop string (held back while streaming)."""
    return max((k for s in stops for k in range(1, len(s)) if text.endswith(s[:k])), default=0)


def engine_for_cli(prog: str, run: str | Path, device: str = "cpu", trust_remote_code: bool = False
                   ) -> SphinxInference | None:
    """The engine of ``run`` for a command-line tool, or None after printing why loading was refused
    (the tool then exits 2)."""
    try:
        return SphinxInference.from_run(run, device=device, trust_remote_code=trust_remote_code or None)
    except UnsafeLoadError as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        return None


def resolve_device(name: str) -> str:
    """``auto`` -> ``cuda`` when available, else ``cpu``; any other name as given."""
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return name


def cut_at_stop(text: str, stops: Sequence[str]) -> str:
    """Text before the first stop string, stripped."""
    cut = min((text.find(s) for s in stops if s and s in text), default=len(text))
    return text[:cut].strip()


def _latest_checkpoint(run_dir: Path) -> Path:
    last = run_dir / "checkpoints" / "last.ckpt"
    if last.exists():
        return last
    found = sorted((run_dir / "checkpoints").glob("*.ckpt"), key=lambda p: p.stat().st_mtime)
    if not found:
        raise FileNotFoundError(f"no checkpoint under {run_dir}/checkpoints")
    return found[-1]
