"""Talk with a trained SPHINX-X about images in the terminal: ``sphinx-x-chat RUN_DIR --image a.png``.

Reads one question per line from stdin (so it can be piped); the history is kept between turns.
Commands: ``/image PATH`` attaches an image to the next question, ``/reset`` starts over about the
same images, ``/quit`` (or end of input) leaves. Defaults come from sphinx_x/conf/chat.yaml.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from omegaconf import OmegaConf
from PIL import Image

from sphinx_x.data.records import IMAGE_TOKEN
from sphinx_x.inference import Conversation, GenerationConfig, SphinxInference, resolve_device
from sphinx_x.runtime.config import load_conf_file

HELP = "commands: /image PATH (attach to the next question), /reset (new conversation), /quit"


class ChatSession:
    """A conversation: the messages so far, every image shown, and the images not yet asked about."""

    def __init__(self, engine: SphinxInference, config: GenerationConfig, system_prompt: str | None = None,
                 describe_first: bool = False):
        self.engine, self.config = engine, config
        self.system = [{"role": "system", "content": system_prompt}] if system_prompt else []
        self.describe_first = describe_first
        self.images: list[Image.Image] = []
        self.reset()

    def reset(self) -> None:
        """Forget the dialogue; every image is attached again to the next question."""
        self.messages: list[dict[str, str]] = list(self.system)
        self.shown: list[Image.Image] = []
        self.pending: list[Image.Image] = list(self.images)

    def add_image(self, path: str | Path) -> Image.Image:
        with Image.open(path) as image:
            rgb = image.convert("RGB")
        self.images.append(rgb)
        self.pending.append(rgb)
        return rgb

    def ask(self, question: str, out: TextIO) -> str:
        """Answer ``question``, writing the answer to ``out`` as it is generated."""
        content = "".join(f"{IMAGE_TOKEN}\n" for _ in self.pending) + question
        conversation = Conversation([*self.messages, {"role": "user", "content": content}],
                                    [*self.shown, *self.pending])
        if self.describe_first and self.pending and len(self.messages) == len(self.system):
            described = self.engine.describe_first([Conversation([{"role": "user", "content": content}],
                                                                 conversation.images)], self.config)[0]
            out.write(f"(description) {described.messages[1]['content']}\n")
            conversation = Conversation([*self.system, *described.messages], described.images)
        stream = self.engine.stream(conversation, self.config)
        out.write("sphinx> ")
        for piece in stream:
            out.write(piece)
            out.flush()
        out.write("\n")
        answer = stream.result.text if stream.result else ""
        self.messages = [*conversation.messages, {"role": "assistant", "content": answer}]
        self.shown, self.pending = list(conversation.images), []
        return answer


def run_chat(session: ChatSession, lines: TextIO, out: TextIO, err: TextIO, interactive: bool = False) -> int:
    """The read-answer loop over ``lines``; returns the exit status."""
    if interactive:
        out.write(HELP + "\n")
    while True:
        if interactive:
            out.write("you> ")
            out.flush()
        line = lines.readline()
        if not line:
            return 0
        line = line.strip()
        if not line:
            continue
        if line in ("/quit", "/exit"):
            return 0
        if line == "/reset":
            session.reset()
            out.write(f"(new conversation; {len(session.images)} image(s) attached)\n")
        elif line.startswith("/image"):
            path = line.removeprefix("/image").strip()
            try:
                image = session.add_image(path)
                out.write(f"(image {len(session.images)} attached: {path}, {image.width}x{image.height})\n")
            except OSError as error:
                err.write(f"error: cannot open image {path!r}: {error}\n")
        elif line.startswith("/"):
            err.write(f"error: unknown command {line.split()[0]}; {HELP}\n")
        else:
            try:
                session.ask(line, out)
            except ValueError as error:
                out.write("\n")
                err.write(f"error: {error}; /reset to start a new conversation\n")
        out.flush()


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
    parser.add_argument("--device", default=defaults["device"], help="auto, cpu, cuda, cuda:1, ...")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    defaults = OmegaConf.to_container(load_conf_file("chat.yaml"))
    args = _parser(defaults).parse_args(argv)  # type: ignore[arg-type]
    engine = SphinxInference.from_run(args.run, device=resolve_device(args.device))
    config = GenerationConfig(max_new_tokens=args.max_new_tokens, do_sample=args.temperature > 0,
                              temperature=args.temperature if args.temperature > 0 else 1.0, top_p=args.top_p)
    session = ChatSession(engine, config, args.system_prompt, args.describe_first)
    for path in args.image:
        try:
            session.add_image(path)
        except OSError as error:
            print(f"sphinx-x-chat: error: cannot open image {path!r}: {error}", file=sys.stderr)
            return 2
    return run_chat(session, sys.stdin, sys.stdout, sys.stderr, interactive=sys.stdin.isatty())


if __name__ == "__main__":
    sys.exit(main())
