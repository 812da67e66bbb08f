"""Talk with a trained SPHINX-X about images in the terminal: ``sphinx-x-chat RUN_DIR --image a.png``.

Reads one question per line from stdin (so it can be piped); the history is kept between turns.
Commands: ``/image PATH`` attaches an image to the next question, ``/reset`` starts over about the
same images, ``/quit`` (or end of input) leaves. Bad input never ends the session: an unusable image
(too large, not an image), a line that is not UTF-8 or a failed answer is reported and the prompt comes
back with the conversation as it was; Ctrl-C stops an answer, or at the prompt says how to leave.
Defaults come from sphinx_x/conf/chat.yaml.
"""

from __future__ import annotations

import argparse
import os
import select
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import IO, TextIO

from omegaconf import OmegaConf
from PIL import Image

from sphinx_x.data.records import IMAGE_TOKEN
from sphinx_x.inference import Conversation, GenerationConfig, SphinxInference, engine_for_cli, resolve_device
from sphinx_x.runtime.config import load_conf_file
from sphinx_x.safe_images import DEFAULT_MAX_PIXELS, ImageRejected, read_local_image, set_pil_pixel_limit

HELP = "commands: /image PATH (attach to the next question), /reset (new conversation), /quit"


class AnswerInterrupted(Exception):
    """Ctrl-C while an answer was being generated (generation stopped; the turn is not kept)."""


class ChatSession:
    """A conversation: the messages so far, every image shown, and the images not yet asked about."""

    def __init__(self, engine: SphinxInference, config: GenerationConfig, system_prompt: str | None = None,
                 describe_first: bool = False, max_image_pixels: int = DEFAULT_MAX_PIXELS):
        self.engine, self.config = engine, config
        self.system = [{"role": "system", "content": system_prompt}] if system_prompt else []
        self.describe_first = describe_first
        self.max_image_pixels = max_image_pixels
        self.images: list[Image.Image] = []
        self.reset()

    def reset(self) -> None:
        """Forget the dialogue; every image is attached again to the next question."""
        self.messages: list[dict[str, str]] = list(self.system)
        self.shown: list[Image.Image] = []
        self.pending: list[Image.Image] = list(self.images)

    def add_image(self, path: str | Path) -> Image.Image:
        """Attach an image file; :class:`ImageRejected` (too large from its header, not an image, unreadable)."""
        rgb = read_local_image(Path(path).expanduser(), self.max_image_pixels)
        self.images.append(rgb)
        self.pending.append(rgb)
        return rgb

    def ask(self, question: str, out: TextIO) -> str:
        """Answer ``question``, writing the answer to ``out`` as it is generated. The conversation only
        changes once the answer is complete (:class:`AnswerInterrupted` on Ctrl-C)."""
        content = "".join(f"{IMAGE_TOKEN}\n" for _ in self.pending) + question
        conversation = Conversation([*self.messages, {"role": "user", "content": content}],
                                    [*self.shown, *self.pending])
        if self.describe_first and self.pending and len(self.messages) == len(self.system):
            try:
                described = self.engine.describe_first([Conversation([{"role": "user", "content": content}],
                                                                     conversation.images)], self.config)[0]
            except KeyboardInterrupt:
                raise AnswerInterrupted from None
            out.write(f"(description) {described.messages[1]['content']}\n")
            conversation = Conversation([*self.system, *described.messages], described.images)
        stream = self.engine.stream(conversation, self.config)
        out.write("sphinx> ")
        try:
            for piece in stream:
                out.write(piece)
                out.flush()
        except KeyboardInterrupt:
            stream.cancel()
            stream.thread.join()
            raise AnswerInterrupted from None
        out.write("\n")
        answer = stream.result.text if stream.result else ""
        self.messages = [*conversation.messages, {"role": "assistant", "content": answer}]
        self.shown, self.pending = list(conversation.images), []
        return answer


class WakefulLines:
    """Lines of a file descriptor, read so that Ctrl-C always reaches the prompt.

    SIGINT may go to any thread of the process (macOS picks any; Linux prefers the main thread): its Python
    handler then waits for the main thread, which a blocking ``readline`` would hold until the next line.
    Waiting in ``select`` with a short timeout lets the main thread run the handler within 0.2 s.
    """

    def __init__(self, fd: int, wake_s: float = 0.2):
        self.fd, self.wake_s, self.buffer = fd, wake_s, b""

    def readline(self) -> bytes:
        """The next line with its newline (the rest at end of input; b"" after it)."""
        while b"\n" not in self.buffer:
            if not select.select([self.fd], [], [], self.wake_s)[0]:
                continue
            chunk = os.read(self.fd, 1 << 16)
            if not chunk:
                line, self.buffer = self.buffer, b""
                return line
            self.buffer += chunk
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line + b"\n"


def read_line(lines: IO | WakefulLines) -> str | None:
    """The next line as text; None at end of input. Bytes that are not UTF-8 raise UnicodeDecodeError
    (the line is consumed, so reading goes on after it)."""
    line = lines.readline()
    if not line:
        return None
    return line.decode("utf-8") if isinstance(line, bytes) else line


def run_chat(session: ChatSession, lines: IO | WakefulLines, out: TextIO, err: TextIO, interactive: bool = False) -> int:
    """The read-answer loop over ``lines`` (text or binary); returns the exit status."""
    if interactive:
        out.write(HELP + "\n")
    while True:
        try:
            if interactive:
                out.write("you> ")
                out.flush()
            try:
                line = read_line(lines)
            except UnicodeDecodeError:
                err.write("error: that line is not UTF-8 text; ignored (the conversation is kept)\n")
                continue
            if line is None:
                return 0
            if handle_line(session, line.strip(), out, err):
                return 0
        except KeyboardInterrupt:
            out.write("\n")
            err.write("(Ctrl-C: the conversation is kept; /quit or Ctrl-D leaves)\n")
        out.flush()


def handle_line(session: ChatSession, line: str, out: TextIO, err: TextIO) -> bool:
    """One command or question; True to leave. Every failure is reported on ``err``, never raised."""
    if not line:
        return False
    if line in ("/quit", "/exit"):
        return True
    if line == "/reset":
        session.reset()
        out.write(f"(new conversation; {len(session.images)} image(s) attached)\n")
    elif line.startswith("/image"):
        path = line.removeprefix("/image").strip().strip("'\"")
        if not path:
            err.write("error: /image needs a path\n")
            return False
        try:
            image = session.add_image(path)
            out.write(f"(image {len(session.images)} attached: {path}, {image.width}x{image.height})\n")
        except ImageRejected as error:
            err.write(f"error: cannot use image {path!r}: {error}\n")
    elif line.startswith("/"):
        err.write(f"error: unknown command {line.split()[0]}; {HELP}\n")
    else:
        try:
            session.ask(line, out)
        except AnswerInterrupted:
            out.write("\n")
            err.write("(answer interrupted; the conversation is as before this question)\n")
        except ValueError as error:  # e.g. the conversation no longer fits max_length
            out.write("\n")
            err.write(f"error: {error}; /reset to start a new conversation\n")
        except Exception as error:  # a failed answer must not end the session
            out.write("\n")
            err.write(f"error: the answer failed ({type(error).__name__}); the conversation is kept\n")
    return False


def _parser(defaults: dict) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sphinx-x-chat", description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("run", type=Path, help="training run folder, checkpoint or exported folder")
    parser.add_argument("--image", action="append", default=[], help="an image to talk about (repeatable)")
    parser.add_argument("--max-new-tokens", type=int, default=defaults["max_new_tokens"],
                        help="most tokens generated per answer")
    parser.add_argument("--temperature", type=float, default=defaults["temperature"], help="0: greedy")
    parser.add_argument("--top-p", type=float, default=defaults["top_p"], help="nucleus sampling mass (when sampling)")
    parser.add_argument("--system-prompt", default=defaults["system_prompt"],
                        help="None: the system prompt the model was trained with")
    parser.add_argument("--describe-first", action=argparse.BooleanOptionalAction, default=defaults["describe_first"],
                        help="Lynx: first ask for a detailed description of the images and keep it in the history")
    parser.add_argument("--max-image-pixels", type=int, default=defaults["max_image_pixels"],
                        help="larger images are refused from their header, before decoding")
    parser.add_argument("--trust-remote-code", action="store_true",
                        help="allow a saved config's llm.trust_remote_code (runs the LLM folder's Python code)")
    parser.add_argument("--device", default=defaults["device"], help="auto, cpu, cuda, cuda:1, ...")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    defaults = OmegaConf.to_container(load_conf_file("chat.yaml"))
    args = _parser(defaults).parse_args(argv)  # type: ignore[arg-type]
    signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl-C works even if started with it ignored
    set_pil_pixel_limit(args.max_image_pixels)
    engine = engine_for_cli("sphinx-x-chat", args.run, resolve_device(args.device), args.trust_remote_code)
    if engine is None:
        return 2
    config = GenerationConfig(max_new_tokens=args.max_new_tokens, do_sample=args.temperature > 0,
                              temperature=args.temperature if args.temperature > 0 else 1.0, top_p=args.top_p)
    session = ChatSession(engine, config, args.system_prompt, args.describe_first, args.max_image_pixels)
    for path in args.image:
        try:
            session.add_image(path)
        except ImageRejected as error:
            print(f"sphinx-x-chat: error: cannot use image {path!r}: {error}", file=sys.stderr)
            return 2
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="replace")  # a terminal that cannot show a character gets '?'
    return run_chat(session, WakefulLines(sys.stdin.fileno()), sys.stdout, sys.stderr, interactive=sys.stdin.isatty())


if __name__ == "__main__":
    sys.exit(main())
