"""An OpenAI-compatible HTTP API for a trained SPHINX-X: ``sphinx-x-serve RUN_DIR --port 8000``.

``POST /v1/chat/completions`` takes ``messages`` whose content is a string or a list of parts
(``{"type": "text"}``, ``{"type": "image_url", "image_url": {"url": ...}}`` with a ``data:`` URL; local
paths and ``file://`` URLs only under ``--allow-local-images DIR``; the server has no internet, so
http(s) URLs are refused) and answers in the OpenAI schema; ``stream: true`` sends
``chat.completion.chunk`` events as tokens are generated, then ``data: [DONE]``. ``GET /v1/models``
lists the one model. Requests are checked against :class:`ServerLimits` before they cost anything
(see :mod:`sphinx_x.serve_guard`), answered one at a time from a bounded queue (429 when full), and a
generation stops when its client disconnects. Defaults: sphinx_x/conf/serve.yaml.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import json
import logging
import os
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote, urlparse
from urllib.request import url2pathname

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response, StreamingResponse
from omegaconf import OmegaConf
from PIL import Image
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from sphinx_x.data.records import IMAGE_TOKEN, RecordError
from sphinx_x.inference import (
    Conversation,
    Generation,
    GenerationCancelled,
    GenerationConfig,
    GenerationStream,
    SphinxInference,
    engine_for_cli,
    resolve_device,
)
from sphinx_x.runtime.config import load_conf_file
from sphinx_x.safe_images import ImageRejected, decode_image, image_header, set_pil_pixel_limit
from sphinx_x.serve_guard import (
    API_KEY_ENV,
    Admission,
    APIError,
    ClientGone,
    ServerLimits,
    check_api_key,
    parse_json,
    read_body,
    watch_disconnect,
)

log = logging.getLogger(__name__)
MESSAGE_MARKUP_CHARS = 32  # counted per message by --max-prompt-chars: the template's markup around it
LOCAL_REFUSED = ("image_url: no image at this path among the files this server shares (--allow-local-images); "
                 "send the image as a data URL (data:image/png;base64,...)")


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


def validate_request(payload: Any) -> ChatCompletionRequest:
    """The parsed JSON as a request; a 400 naming the first bad field."""
    try:
        return ChatCompletionRequest.model_validate(payload)
    except ValidationError as error:
        first = error.errors(include_url=False, include_input=False, include_context=False)[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise APIError(f"invalid request: {where or 'body'}: {first.get('msg', 'invalid value')}",
                       param=where or None) from None


def error_response(error: APIError) -> JSONResponse:
    return JSONResponse(error.body(), status_code=error.status, headers=error.headers)


# ---------------------------------------------------------------------- limits
def check_limits(request: ChatCompletionRequest, limits: ServerLimits) -> None:
    """Prompt characters, image count, max_tokens and stop strings, before any image or token is made."""
    chars = images = 0
    for message in request.messages:
        chars += MESSAGE_MARKUP_CHARS
        if isinstance(message.content, str):
            chars += len(message.content)
            continue
        for part in message.content or []:
            chars += len(part.text or "")
            images += part.type == "image_url"
    if chars > limits.max_prompt_chars:
        raise APIError(f"prompt too long: {chars} characters of text (each message counts {MESSAGE_MARKUP_CHARS} "
                       f"for its template markup); this server takes at most "
                       f"{limits.max_prompt_chars} (--max-prompt-chars)", param="messages",
                       code="context_length_exceeded")
    if images > limits.max_images:
        raise APIError(f"too many images: {images}; this server takes at most {limits.max_images} per request "
                       "(--max-images)", param="messages")
    asked = request.max_completion_tokens or request.max_tokens
    if asked is not None and asked > limits.max_tokens_limit:
        field = "max_completion_tokens" if request.max_completion_tokens else "max_tokens"
        raise APIError(f"{field}: {asked} is more than this server generates ({limits.max_tokens_limit}, "
                       "--max-tokens-limit)", param=field)
    stops = [request.stop] if isinstance(request.stop, str) else list(request.stop or [])
    if len(stops) > limits.max_stop:
        raise APIError(f"stop: at most {limits.max_stop} stop strings (--max-stop), got {len(stops)}", param="stop")
    if any(len(s) > limits.max_stop_chars for s in stops):
        raise APIError(f"stop: each stop string may have at most {limits.max_stop_chars} characters "
                       "(--max-stop-chars)", param="stop")


# ---------------------------------------------------------------------- images
ImageSource = bytes | Path  # checked from its header; decoded once the request's turn comes


def image_source(url: str, limits: ServerLimits) -> ImageSource:
    """The bytes of a ``data:`` URL or a file under ``limits.allow_local_images``; format and size are
    checked from the header here, nothing is decoded."""
    parsed = urlparse(url)
    scheme = parsed.scheme.lower()
    if scheme in ("http", "https", "ftp"):
        raise APIError("image_url: remote image URLs are not supported (this server has no internet access); "
                       "send the image as a data URL (data:image/png;base64,...)", param="image_url")
    if scheme == "data":
        header, _, payload = url.partition(",")
        if not header.endswith(";base64"):
            raise APIError("image_url: image data URLs must be base64-encoded (data:image/png;base64,...)",
                           param="image_url")
        try:
            source: ImageSource = base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError):
            raise APIError("image_url: image data URL: invalid base64", param="image_url") from None
        name = "image data URL"
    elif scheme == "file" or not scheme or len(scheme) == 1:  # one letter: a Windows drive
        source = _local_path(url, parsed, limits.allow_local_images)
        name = "image_url"
    else:
        raise APIError("image_url: this URL scheme is not supported; send the image as a data URL", param="image_url")
    try:
        image_header(source, limits.max_image_pixels, name)
    except ImageRejected as error:
        raise _image_error(source, error) from None
    return source


def _image_error(source: ImageSource, error: ImageRejected) -> APIError:
    """A local file that is not a usable image gets the same answer as a missing one (size excepted)."""
    if isinstance(source, Path) and error.reason != "too_large":
        return APIError(LOCAL_REFUSED, param="image_url")
    return APIError(str(error), param="image_url")


def _local_path(url: str, parsed: Any, root: Path | None) -> Path:
    """A regular file inside ``root`` (symlinks resolved); one message for every refusal, so a client
    cannot learn whether a file exists outside it."""
    if root is None:
        raise APIError("image_url: this server does not read local files (start it with --allow-local-images DIR); "
                       "send the image as a data URL", param="image_url")
    try:
        if parsed.scheme.lower() == "file":
            if parsed.netloc not in ("", "localhost"):
                raise ValueError("remote host")
            raw = url2pathname(unquote(parsed.path))
        else:
            raw = url
        resolved = Path(os.path.realpath(root / raw))
        if resolved.is_relative_to(root) and resolved.is_file():
            return resolved
    except (OSError, ValueError):
        pass
    raise APIError(LOCAL_REFUSED, param="image_url")


def decode_sources(sources: Sequence[ImageSource], max_pixels: int) -> list[Image.Image]:
    """Decode checked images (in the request's turn: one request's pixels in memory at a time)."""
    images = []
    for source in sources:
        try:
            images.append(decode_image(source, max_pixels, "image data URL" if isinstance(source, bytes)
                                       else "image_url"))
        except ImageRejected as error:
            raise _image_error(source, error) from None
    return images


# ---------------------------------------------------------------------- request -> conversation
@dataclass
class Prepared:
    """A request's messages (``<image>`` where each image goes) and its images, not yet decoded."""

    messages: list[dict[str, str]]
    sources: list[ImageSource]

    def conversation(self, max_pixels: int) -> Conversation:
        return Conversation(self.messages, decode_sources(self.sources, max_pixels))


def prepare(messages: Sequence[Message], limits: ServerLimits) -> Prepared:
    """OpenAI messages -> our messages: image parts become ``<image>`` where they stand."""
    converted: list[dict[str, str]] = []
    sources: list[ImageSource] = []
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
                sources.append(image_source(url, limits))
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
    return Prepared(converted, sources)


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


def checked_prompt(engine: SphinxInference, conversation: Conversation) -> None:
    """Tokenise the prompt once to answer a 400 (e.g. longer than max_length) before streaming starts."""
    try:
        engine.processor.prompt({"id": "request", "messages": conversation.messages}, conversation.images)
    except RecordError as error:
        raise _prompt_error(error) from None


def _prompt_error(error: RecordError) -> APIError:
    code = "context_length_exceeded" if error.reason == "too_long" else None
    return APIError(f"prompt cannot be used: {error.detail or error.reason}", param="messages", code=code)


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


def stream_events(pieces: Iterator[str], result: Callable[[], Generation | None], model: str,
                  include_usage: bool) -> Iterator[str]:
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
    except GenerationCancelled:
        return  # the client is gone
    except Exception:  # headers are sent: report in the stream
        log.exception("generation failed while streaming")
        failure = APIError("internal error while generating (logged on the server)", 500, kind="server_error")
        yield f"data: {json.dumps(failure.body())}\n\n"
        yield "data: [DONE]\n\n"
        return
    generation = result()
    assert generation is not None
    yield event({}, generation.finish_reason)
    if include_usage:
        yield f"data: {json.dumps({**head, 'choices': [], 'usage': usage(generation)})}\n\n"
    yield "data: [DONE]\n\n"


async def _in_threads(events: Iterator[str]) -> AsyncIterator[str]:
    """A blocking iterator, one item per thread hop (the event loop stays free for other clients)."""
    end = object()
    while (item := await run_in_threadpool(next, events, end)) is not end:
        yield item  # type: ignore[misc]


class GuardedStream(StreamingResponse):
    """A streaming response that runs ``on_close`` however it ends (done, disconnected, failed, never started)."""

    def __init__(self, content: AsyncIterator[str], on_close: Callable[[], None], **kwargs: Any):
        super().__init__(content, **kwargs)
        self.on_close = on_close

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.on_close()


# ---------------------------------------------------------------------- the app
def create_app(engine: SphinxInference, model_name: str = "sphinx-x", default_max_tokens: int = 512,
               limits: ServerLimits | None = None, api_key: str | None = None) -> FastAPI:
    """The FastAPI app around one loaded model: answers come one at a time from a queue of at most
    ``limits.max_queue`` requests. ``app.state.stats`` counts outcomes (completed, cancelled, ...)."""
    limits = limits or ServerLimits()
    if default_max_tokens > limits.max_tokens_limit:
        raise ValueError(f"max_new_tokens ({default_max_tokens}) is more than max_tokens_limit "
                         f"({limits.max_tokens_limit})")
    app = FastAPI(title="SPHINX-X", description="OpenAI-compatible chat completions",
                  docs_url=None, redoc_url=None, openapi_url=None)
    created = int(time.time())
    admission = Admission(limits.max_queue)
    stats: Counter[str] = Counter()
    app.state.stats, app.state.admission, app.state.limits = stats, admission, limits

    @app.exception_handler(APIError)
    async def api_error(request: Request, error: APIError) -> JSONResponse:
        stats[f"status_{error.status}"] += 1
        return error_response(error)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        message = ("no such endpoint: this server has GET /v1/models and POST /v1/chat/completions"
                   if error.status_code in (404, 405) else "request refused")
        return error_response(APIError(message, error.status_code, code="not_found" if error.status_code == 404
                                       else None))

    @app.exception_handler(Exception)
    async def failed(request: Request, error: Exception) -> JSONResponse:
        incident = uuid.uuid4().hex[:12]
        log.exception("request failed (incident %s)", incident)
        stats["status_500"] += 1
        return error_response(APIError(f"internal server error (incident {incident}, logged on the server)", 500,
                                       kind="server_error"))

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/v1/models")
    async def models(request: Request) -> dict[str, Any]:
        check_api_key(request, api_key)
        return {"object": "list", "data": [{"id": model_name, "object": "model", "created": created,
                                            "owned_by": "sphinx-x"}]}

    @app.post("/v1/chat/completions", response_model=None)
    async def chat_completions(request: Request) -> Response:
        check_api_key(request, api_key)
        admission.enter()
        gone = threading.Event()  # set when the client disconnects: generation stops at the next token
        watcher: asyncio.Task | None = None
        handed_over = holding = False
        try:
            raw = await read_body(request, limits)
            body, config, prepared = await run_in_threadpool(parse_request, raw, limits, default_max_tokens)
            watcher = asyncio.create_task(watch_disconnect(request, gone))
            await admission.slot.acquire()
            holding = True
            if gone.is_set():
                raise ClientGone
            if body.stream:
                conversation = await run_in_threadpool(_streamable, engine, prepared, limits)
                stream = engine.stream(conversation, config, cancel=gone)
                include = bool(body.stream_options and body.stream_options.include_usage)
                events = stream_events(iter(stream), lambda: stream.result, model_name, include)

                def close(stream: GenerationStream = stream) -> None:
                    done = stream.result is not None
                    stream.cancel()  # a no-op once it has finished
                    cancelled = not done and isinstance(stream.error, GenerationCancelled | None)
                    stats["completed" if done else "cancelled" if cancelled else "failed"] += 1
                    _release(admission, watcher)

                handed_over = True
                return GuardedStream(_in_threads(events), close, media_type="text/event-stream",
                                     headers={"Cache-Control": "no-cache"})
            generation = await run_in_threadpool(_answer, engine, prepared, config, limits, gone)
            stats["completed"] += 1
            return JSONResponse(completion_body(generation, model_name))
        except (ClientGone, GenerationCancelled):
            stats["cancelled"] += 1
            return Response(status_code=499)  # nobody reads it
        finally:
            if not handed_over:
                _release(admission, watcher, holding)

    return app


def parse_request(raw: bytes, limits: ServerLimits, default_max_tokens: int
                  ) -> tuple[ChatCompletionRequest, GenerationConfig, Prepared]:
    """A body -> the request, its generation config and its messages with header-checked images
    (in a worker thread: a 16 MB body takes seconds to parse and validate)."""
    body = validate_request(parse_json(raw))
    check_limits(body, limits)
    config = generation_config(body, default_max_tokens)
    return body, config, prepare(body.messages, limits)


def _streamable(engine: SphinxInference, prepared: Prepared, limits: ServerLimits) -> Conversation:
    conversation = prepared.conversation(limits.max_image_pixels)
    checked_prompt(engine, conversation)
    return conversation


def _answer(engine: SphinxInference, prepared: Prepared, config: GenerationConfig, limits: ServerLimits,
            gone: threading.Event) -> Generation:
    conversation = prepared.conversation(limits.max_image_pixels)
    try:
        return engine.generate_full([conversation], config, cancel=gone)[0]
    except RecordError as error:  # e.g. longer than the model's max_length
        raise _prompt_error(error) from None


def _release(admission: Admission, watcher: asyncio.Task | None, holding: bool = True) -> None:
    if watcher is not None:
        watcher.cancel()
    if holding:
        admission.slot.release()
    admission.leave()


# ---------------------------------------------------------------------- command line
def _parser(defaults: dict) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sphinx-x-serve", description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("run", type=Path, help="training run folder, checkpoint or exported folder")
    parser.add_argument("--host", default=defaults["host"],
                        help="address to listen on (loopback by default; elsewhere, put a proxy with TLS in front)")
    parser.add_argument("--port", type=int, default=defaults["port"], help="TCP port")
    parser.add_argument("--model-name", default=defaults["model_name"],
                        help="name in responses and /v1/models; None: the run folder's name")
    parser.add_argument("--max-new-tokens", type=int, default=defaults["max_new_tokens"],
                        help="tokens generated when a request gives no max_tokens")
    parser.add_argument("--max-tokens-limit", type=int, default=defaults["max_tokens_limit"],
                        help="largest max_tokens a request may ask for (400 above)")
    parser.add_argument("--max-body-bytes", type=int, default=defaults["max_body_bytes"],
                        help="largest request body (413 above, refused from Content-Length before reading)")
    parser.add_argument("--max-prompt-chars", type=int, default=defaults["max_prompt_chars"],
                        help=f"most text characters in all messages, {MESSAGE_MARKUP_CHARS} more per message for "
                             "its markup (400 above, before tokenising); the token limit is the model's max_length")
    parser.add_argument("--max-images", type=int, default=defaults["max_images"], help="most images per request")
    parser.add_argument("--max-image-pixels", type=int, default=defaults["max_image_pixels"],
                        help="most pixels per image, read from its header before decoding (400 above); also "
                             "PIL's Image.MAX_IMAGE_PIXELS")
    parser.add_argument("--max-stop", type=int, default=defaults["max_stop"], help="most stop strings per request")
    parser.add_argument("--max-stop-chars", type=int, default=defaults["max_stop_chars"],
                        help="most characters per stop string")
    parser.add_argument("--max-queue", type=int, default=defaults["max_queue"],
                        help="requests admitted at once (one generates, the others wait in order); more get 429")
    parser.add_argument("--body-timeout", type=float, default=defaults["body_timeout"],
                        help="seconds a client has to send its request body (408 after)")
    parser.add_argument("--allow-local-images", type=Path, default=defaults["allow_local_images"], metavar="DIR",
                        help="let image_url name files (paths, file://) inside DIR only; None: no local files")
    parser.add_argument("--api-key", default=defaults["api_key"],
                        help=f"require 'Authorization: Bearer KEY'; None: ${API_KEY_ENV} if set, else no key "
                             f"(prefer ${API_KEY_ENV}: command lines are visible to other users)")
    parser.add_argument("--trust-remote-code", action="store_true",
                        help="allow a saved config's llm.trust_remote_code (runs the LLM folder's Python code)")
    parser.add_argument("--device", default=defaults["device"], help="auto, cpu, cuda, cuda:1, ...")
    return parser


def limits_from_args(args: argparse.Namespace) -> ServerLimits:
    """The command line's limits (``--allow-local-images`` must be an existing folder)."""
    folder = args.allow_local_images
    if folder is not None:
        folder = Path(os.path.realpath(folder))
        if not folder.is_dir():
            raise ValueError(f"--allow-local-images: {args.allow_local_images} is not a folder")
    return ServerLimits(max_body_bytes=args.max_body_bytes, max_prompt_chars=args.max_prompt_chars,
                        max_tokens_limit=args.max_tokens_limit, max_stop=args.max_stop,
                        max_stop_chars=args.max_stop_chars, max_images=args.max_images,
                        max_image_pixels=args.max_image_pixels, max_queue=args.max_queue,
                        body_timeout=args.body_timeout, allow_local_images=folder)


def main(argv: Sequence[str] | None = None) -> int:
    import uvicorn

    defaults = OmegaConf.to_container(load_conf_file("serve.yaml"))
    parser = _parser(defaults)  # type: ignore[arg-type]
    args = parser.parse_args(argv)
    try:
        limits = limits_from_args(args)
    except ValueError as error:
        parser.error(str(error))
    if args.max_new_tokens > args.max_tokens_limit:
        parser.error(f"--max-new-tokens {args.max_new_tokens} is more than --max-tokens-limit {args.max_tokens_limit}")
    api_key = args.api_key or os.environ.get(API_KEY_ENV) or None
    if args.host not in ("127.0.0.1", "localhost", "::1") and not api_key:
        log.warning("serving on %s without an API key: anyone who can reach it can use the model", args.host)
    set_pil_pixel_limit(limits.max_image_pixels)
    engine = engine_for_cli("sphinx-x-serve", args.run, resolve_device(args.device), args.trust_remote_code)
    if engine is None:
        return 2
    name = args.model_name or (args.run.parent.parent.name if args.run.is_file() else args.run.resolve().name)
    app = create_app(engine, name, args.max_new_tokens, limits, api_key)
    uvicorn.run(app, host=args.host, port=args.port, server_header=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
