"""An OpenAI-compatible HTTP API for a trained SPHINX-X: ``sphinx-x-serve RUN_DIR --port 8000``.

``POST /v1/chat/completions`` takes ``messages`` whose content is a string or a list of parts
(``{"type": "text"}``, ``{"type": "image_url", "image_url": {"url": ...}}`` with a ``data:`` URL, a
local path or a ``file://`` URL; the server has no internet, so http(s) URLs are refused) and
answers in the OpenAI schema; ``stream: true`` sends ``chat.completion.chunk`` events as tokens are
generated, then ``data: [DONE]``. ``GET /v1/models`` lists the one model. Defaults: sphinx_x/conf/serve.yaml.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import io
import json
import logging
import sys
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, urlparse
from urllib.request import url2pathname

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from omegaconf import OmegaConf
from PIL import Image
from pydantic import BaseModel, ConfigDict, Field

from sphinx_x.data.records import IMAGE_TOKEN, RecordError
from sphinx_x.inference import Conversation, Generation, GenerationConfig, SphinxInference, resolve_device
from sphinx_x.runtime.config import load_conf_file

log = logging.getLogger(__name__)


# ---------------------------------------------------------------------- request schema
class ImageURL(BaseModel):
    url: str
    detail: str | None = None


class ContentPart(BaseModel):
    type: Literal["text", "image_url"]
    text: str | None = None
    image_url: ImageURL | str | None = None


class Message(BaseModel):
    role: Literal["system", "developer", "user", "assistant"]
    content: str | list[ContentPart] | None = None


class StreamOptions(BaseModel):
    include_usage: bool = False


class ChatCompletionRequest(BaseModel):
    """The fields we use; other OpenAI fields are accepted and ignored."""

    model_config = ConfigDict(extra="allow")

    model: str | None = None
    messages: list[Message] = Field(min_length=1)
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, gt=0, le=1)
    stop: str | list[str] | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    n: int = 1


class APIError(Exception):
    """Answered as ``{"error": {"message", "type", "param", "code"}}`` with ``status``."""

    def __init__(self, message: str, status: int = 400, param: str | None = None,
                 kind: str = "invalid_request_error"):
        super().__init__(message)
        self.message, self.status, self.param, self.kind = message, status, param, kind


def error_response(error: APIError) -> JSONResponse:
    body = {"error": {"message": error.message, "type": error.kind, "param": error.param, "code": None}}
    return JSONResponse(body, status_code=error.status)


# ---------------------------------------------------------------------- request -> conversation
def load_image(url: str, allow_local: bool = True) -> Image.Image:
    """An RGB image from a ``data:`` URL, a ``file://`` URL or a local path."""
    scheme = urlparse(url).scheme.lower()
    if scheme in ("http", "https", "ftp"):
        raise APIError(f"remote image URLs are not supported (this server has no internet access): {url[:80]}; "
                       "send the image as a data URL (data:image/png;base64,...)", param="image_url")
    if scheme == "data":
        header, _, payload = url.partition(",")
        if not header.endswith(";base64"):
            raise APIError("image data URLs must be base64-encoded (data:image/png;base64,...)", param="image_url")
        try:
            data = base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError) as error:
            raise APIError(f"image data URL: invalid base64 ({error})", param="image_url") from error
        return _open_image(io.BytesIO(data), "image data URL")
    if scheme == "file":
        path = Path(url2pathname(unquote(urlparse(url).path)))
    elif scheme and len(scheme) > 1:
        raise APIError(f"image URL scheme {scheme!r} is not supported: use a data URL, a local path or file://",
                       param="image_url")
    else:
        path = Path(url)
    if not allow_local:
        raise APIError("this server does not read local files; send the image as a data URL", param="image_url")
    if not path.is_file():
        raise APIError(f"image file not found on the server: {path}", param="image_url")
    return _open_image(path, str(path))


def _open_image(source: Any, name: str) -> Image.Image:
    try:
        with Image.open(source) as image:
            return image.convert("RGB")
    except (OSError, ValueError, Image.DecompressionBombError) as error:
        raise APIError(f"{name}: not a readable image ({error})", param="image_url") from error


def to_conversation(messages: Sequence[Message], allow_local_images: bool = True) -> Conversation:
    """OpenAI messages -> our conversation: image parts become ``<image>`` where they stand."""
    converted: list[dict[str, str]] = []
    images: list[Image.Image] = []
    for i, message in enumerate(messages):
        role = "system" if message.role == "developer" else message.role
        parts = [ContentPart(type="text", text=message.content)] if isinstance(message.content, str) else (
            message.content or [])
        texts = []
        for part in parts:
            if part.type == "text":
                if IMAGE_TOKEN in (part.text or ""):
                    raise APIError(f"messages[{i}]: text may not contain {IMAGE_TOKEN!r}; send images as "
                                   "image_url parts", param=f"messages[{i}].content")
                texts.append(part.text or "")
            else:
                if role != "user":
                    raise APIError(f"messages[{i}]: images are only allowed in user messages",
                                   param=f"messages[{i}].content")
                if part.image_url is None:
                    raise APIError(f"messages[{i}]: image_url part without image_url", param=f"messages[{i}].content")
                url = part.image_url if isinstance(part.image_url, str) else part.image_url.url
                images.append(load_image(url, allow_local_images))
                texts.append(IMAGE_TOKEN)
        content = "\n".join(t for t in texts if t)
        if role == "system":
            if converted and converted[-1]["role"] != "system":
                raise APIError(f"messages[{i}]: system messages must come first", param=f"messages[{i}]")
            if converted:
                converted[-1]["content"] += "\n" + content
                continue
        converted.append({"role": role, "content": content})
    if converted[-1]["role"] != "user":
        raise APIError("the last message must be from the user", param="messages")
    return Conversation(converted, images)


def generation_config(request: ChatCompletionRequest, default_max_tokens: int) -> GenerationConfig:
    """Greedy unless ``temperature`` > 0; ``top_p`` applies when sampling."""
    if request.n != 1:
        raise APIError("only n=1 is supported", param="n")
    stops = [request.stop] if isinstance(request.stop, str) else list(request.stop or [])
    sample = (request.temperature or 0.0) > 0
    return GenerationConfig(
        max_new_tokens=request.max_completion_tokens or request.max_tokens or default_max_tokens, do_sample=sample,
        temperature=request.temperature if sample else 1.0, top_p=request.top_p if sample and request.top_p else 1.0,
        stop_strings=[s for s in stops if s])


# ---------------------------------------------------------------------- responses
def usage(generation: Generation) -> dict[str, int]:
    """Prompt tokens count every LLM position, visual slots included."""
    completion = len(generation.token_ids)
    return {"prompt_tokens": generation.prompt_tokens, "completion_tokens": completion,
            "total_tokens": generation.prompt_tokens + completion}


def completion_body(generation: Generation, model: str) -> dict[str, Any]:
    return {"id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion", "created": int(time.time()),
            "model": model, "system_fingerprint": None,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": generation.text},
                         "logprobs": None, "finish_reason": generation.finish_reason}],
            "usage": usage(generation)}


def stream_events(pieces: Iterator[str], result: Any, model: str, include_usage: bool) -> Iterator[str]:
    """Server-sent ``chat.completion.chunk`` events; ``result()`` gives the Generation once done."""
    head = {"id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion.chunk", "created": int(time.time()),
            "model": model, "system_fingerprint": None}

    def event(delta: dict[str, str], finish: str | None = None, **extra: Any) -> str:
        choices = [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]
        return f"data: {json.dumps({**head, 'choices': choices, **extra})}\n\n"

    yield event({"role": "assistant", "content": ""})
    try:
        for piece in pieces:
            yield event({"content": piece})
    except Exception as error:  # headers are sent: report in the stream
        log.exception("generation failed while streaming")
        yield f"data: {json.dumps({'error': {'message': str(error), 'type': 'server_error'}})}\n\n"
        yield "data: [DONE]\n\n"
        return
    generation: Generation = result()
    yield event({}, generation.finish_reason)
    if include_usage:
        yield f"data: {json.dumps({**head, 'choices': [], 'usage': usage(generation)})}\n\n"
    yield "data: [DONE]\n\n"


def create_app(engine: SphinxInference, model_name: str = "sphinx-x", default_max_tokens: int = 512,
               allow_local_images: bool = True) -> FastAPI:
    """The FastAPI app around one loaded model (generations run one at a time)."""
    app = FastAPI(title="SPHINX-X", description="OpenAI-compatible chat completions")
    created = int(time.time())

    @app.exception_handler(APIError)
    async def api_error(request: Request, error: APIError) -> JSONResponse:
        return error_response(error)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        first = error.errors()[0] if error.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        return error_response(APIError(f"invalid request: {where}: {first.get('msg', 'invalid value')}",
                                       param=where or None))

    @app.exception_handler(Exception)
    async def failed(request: Request, error: Exception) -> JSONResponse:
        log.exception("request failed")
        return error_response(APIError(f"internal error: {type(error).__name__}: {error}", 500, kind="server_error"))

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        return {"object": "list", "data": [{"id": model_name, "object": "model", "created": created,
                                            "owned_by": "sphinx-x"}]}

    @app.post("/v1/chat/completions", response_model=None)
    async def chat_completions(request: ChatCompletionRequest) -> JSONResponse | StreamingResponse:
        config = generation_config(request, default_max_tokens)
        conversation = await run_in_threadpool(to_conversation, request.messages, allow_local_images)
        if request.stream:
            try:  # once streaming has begun errors can no longer be a 400: check the prompt first
                await run_in_threadpool(engine.processor.prompt, {"id": "request", "messages": conversation.messages},
                                        conversation.images)
            except RecordError as error:
                raise APIError(f"prompt cannot be used: {error}", param="messages") from error
            stream = engine.stream(conversation, config)
            include = bool(request.stream_options and request.stream_options.include_usage)
            return StreamingResponse(stream_events(iter(stream), lambda: stream.result, model_name, include),
                                     media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
        try:
            generation = (await run_in_threadpool(engine.generate_full, [conversation], config))[0]
        except RecordError as error:  # e.g. longer than the model's max_length
            raise APIError(f"prompt cannot be used: {error}", param="messages") from error
        return JSONResponse(completion_body(generation, model_name))

    return app


def _parser(defaults: dict) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sphinx-x-serve", description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("run", type=Path, help="training run folder, checkpoint or exported folder")
    parser.add_argument("--host", default=defaults["host"], help="address to listen on (loopback only by default)")
    parser.add_argument("--port", type=int, default=defaults["port"], help="TCP port")
    parser.add_argument("--model-name", default=defaults["model_name"],
                        help="name in responses and /v1/models; None: the run folder's name")
    parser.add_argument("--max-new-tokens", type=int, default=defaults["max_new_tokens"],
                        help="when a request gives no max_tokens")
    parser.add_argument("--local-images", action=argparse.BooleanOptionalAction, default=defaults["local_images"],
                        help="accept local paths / file:// URLs as image_url")
    parser.add_argument("--device", default=defaults["device"], help="auto, cpu, cuda, cuda:1, ...")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    import uvicorn

    defaults = OmegaConf.to_container(load_conf_file("serve.yaml"))
    args = _parser(defaults).parse_args(argv)  # type: ignore[arg-type]
    engine = SphinxInference.from_run(args.run, device=resolve_device(args.device))
    name = args.model_name or (args.run.parent.parent.name if args.run.is_file() else args.run.resolve().name)
    app = create_app(engine, name, args.max_new_tokens, args.local_images)
    uvicorn.run(app, host=args.host, port=args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
