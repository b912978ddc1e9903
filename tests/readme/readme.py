"""The README's examples, read from README.md at test time: shell commands and the example output.

Nothing here copies a README command: :func:`examples` parses the fenced ```bash blocks (one command per line,
``\\`` continuations joined, ``&&`` chains split, trailing ``# comments`` kept apart as the README's claim about
the command) and the ``$ command`` lines of ```text blocks with the output printed under them. The test then
decides, by the rules in ``test_readme_examples.py``, which commands run and which are skipped with a reason, so
a command added to the README is either run or fails the test until someone says why it cannot be.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"
_FENCE = re.compile(r"^```(\w*)\s*$")


@dataclass(frozen=True)
class Example:
    """One command of the README, as written, with where it is and what the README says about it."""

    text: str  # the command as written (one segment of an ``&&`` chain, comment removed)
    line: int  # 1-based README line of the command's first line
    section: str  # the heading the command is under
    comment: str = ""  # the README's trailing ``# comment``: often a claim ("accepted; 96 rows flagged")
    output: tuple[str, ...] = field(default=())  # ```text blocks: the example output printed under ``$ command``

    def where(self) -> str:
        return f"README.md line {self.line} ({self.section}): {self.text}"


def _outside_quotes(text: str) -> Iterator[tuple[int, str]]:
    """(index, char) of every character of ``text`` that is not inside single or double quotes."""
    quote: str | None = None
    for index, char in enumerate(text):
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        else:
            yield index, char


def split_comment(line: str) -> tuple[str, str]:
    """A shell line's code and its trailing comment (a ``#`` outside quotes at a word start)."""
    for index, char in _outside_quotes(line):
        if char == "#" and (index == 0 or line[index - 1].isspace()):
            return line[:index].rstrip(), line[index + 1 :].strip()
    return line.strip(), ""


def split_chain(code: str) -> list[str]:
    """The commands of an ``a && b`` chain (``&&`` outside quotes), each stripped."""
    cuts = [i for i, char in _outside_quotes(code) if char == "&" and code[i : i + 2] == "&&"]
    pieces, start = [], 0
    for cut in cuts:
        pieces.append(code[start:cut])
        start = cut + 2
    pieces.append(code[start:])
    return [piece.strip() for piece in pieces if piece.strip()]


def _logical_lines(lines: list[tuple[int, str]]) -> Iterator[tuple[int, str]]:
    """Lines of a shell block with ``\\`` continuations joined, keeping the first line's number."""
    pending: tuple[int, str] | None = None
    for number, raw in lines:
        if pending is not None:
            number, raw = pending[0], pending[1] + " " + raw.strip()
        if raw.rstrip().endswith("\\"):
            pending = (number, raw.rstrip()[:-1].rstrip())
            continue
        pending = None
        yield number, raw
    if pending is not None:
        yield pending


def _blocks(text: str) -> Iterator[tuple[str, str, list[tuple[int, str]]]]:
    """(language, section heading, [(line number, line)]) of every fenced block of a markdown text."""
    section, language, body = "top", None, []
    for number, line in enumerate(text.splitlines(), start=1):
        fence = _FENCE.match(line)
        if language is None and fence:
            language, body = fence.group(1), []
        elif language is not None and line.startswith("```"):
            yield language, section, body
            language = None
        elif language is not None:
            body.append((number, line))
        elif line.startswith("#"):
            section = line.lstrip("#").strip()


def _bash_examples(section: str, body: list[tuple[int, str]]) -> Iterator[Example]:
    for number, line in _logical_lines(body):
        code, comment = split_comment(line)
        for command in split_chain(code):
            yield Example(command, number, section, comment)


def _text_examples(section: str, body: list[tuple[int, str]]) -> Iterator[Example]:
    """``$ command`` lines of a text block, each with the output lines up to the next ``$``."""
    starts = [i for i, (_, line) in enumerate(body) if line.startswith("$ ")]
    for k, start in enumerate(starts):
        end = starts[k + 1] if k + 1 < len(starts) else len(body)
        number, line = body[start]
        output = tuple(text for _, text in body[start + 1 : end])
        yield Example(line[2:].strip(), number, section, "", output)


def examples(readme: Path = README) -> list[Example]:
    """Every shell command of the README, in reading order (bash blocks, and ``$`` lines of text blocks)."""
    found: list[Example] = []
    for language, section, body in _blocks(readme.read_text(encoding="utf-8")):
        if language == "bash":
            found.extend(_bash_examples(section, body))
        elif language == "text":
            found.extend(_text_examples(section, body))
    return found


def argv(command: str) -> tuple[dict[str, str], list[str]]:
    """A command's leading ``NAME=value`` environment assignments and its argument vector (POSIX shell words)."""
    words = shlex.split(command)
    env: dict[str, str] = {}
    while words and re.fullmatch(r"[A-Z_][A-Z0-9_]*=\S*", words[0]):
        name, _, value = words.pop(0).partition("=")
        env[name] = value
    return env, words
