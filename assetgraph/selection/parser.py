"""`parse(text) -> Node`: a pure function from selection syntax to the AST.

No I/O, no configuration, no graph. Errors are `SelectionSyntaxError` (with the position) or
`UnknownSelectorMethod`; there is no fallback parser.

Grammar (space-separated terms are a union; `and` binds tighter than union/`or`)::

    expr      := and_expr (("or" | <space>) and_expr)*
    and_expr  := unary ("and" unary)*
    unary     := "not" unary | traversal
    traversal := [N] "+"? primary "+"? [N]        (no spaces inside)
    primary   := "(" expr ")" | method ":" value | value
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from assetgraph.errors import SelectionSyntaxError, UnknownSelectorMethod
from assetgraph.selection.ast import And, Leaf, Node, Not, Or, Traverse
from assetgraph.selection.methods import METHODS

__all__ = ["parse"]

_WORD_CHARS = re.compile(r"[^\s()+\"]+")
_DIGITS = re.compile(r"^\d+$")


@dataclass(frozen=True)
class _Tok:
    kind: str  # "(" ")" "+" "word" "string"
    text: str
    pos: int
    spaced: bool  # whitespace (or start of text) right before this token


def _tokenize(text: str) -> list[_Tok]:
    toks: list[_Tok] = []
    i, spaced = 0, True
    while i < len(text):
        ch = text[i]
        if ch.isspace():
            i += 1
            spaced = True
            continue
        if ch in "()+":
            toks.append(_Tok(ch, ch, i, spaced))
            i += 1
        elif ch == '"':
            j, buf = i + 1, []
            while j < len(text) and text[j] != '"':
                if text[j] == "\\" and j + 1 < len(text):
                    j += 1
                buf.append(text[j])
                j += 1
            if j >= len(text):
                raise SelectionSyntaxError(text, i, "unterminated quoted value")
            toks.append(_Tok("string", "".join(buf), i, spaced))
            i = j + 1
        else:
            m = _WORD_CHARS.match(text, i)
            assert m is not None
            toks.append(_Tok("word", m.group(0), i, spaced))
            i = m.end()
        spaced = False
    return toks


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = _tokenize(text)
        self.i = 0

    # -- helpers -----------------------------------------------------------------------
    def peek(self, offset: int = 0) -> _Tok | None:
        j = self.i + offset
        return self.toks[j] if j < len(self.toks) else None

    def error(self, reason: str, tok: _Tok | None = None) -> SelectionSyntaxError:
        pos = tok.pos if tok else len(self.text)
        return SelectionSyntaxError(self.text, pos, reason)

    def is_keyword(self, tok: _Tok | None, word: str) -> bool:
        return tok is not None and tok.kind == "word" and tok.text.lower() == word

    # -- grammar -----------------------------------------------------------------------
    def parse(self) -> Node:
        if not self.toks:
            raise SelectionSyntaxError(self.text, 0, "empty selection")
        node = self.expr()
        tok = self.peek()
        if tok is not None:
            raise self.error(f"unexpected {tok.text!r}", tok)
        return node

    def expr(self) -> Node:
        items = [self.and_expr()]
        while True:
            tok = self.peek()
            if tok is None or tok.kind == ")":
                break
            if self.is_keyword(tok, "or"):
                self.i += 1
            elif not tok.spaced:
                raise self.error("expected a space, 'and' or 'or' between terms", tok)
            items.append(self.and_expr())
        return _flatten(Or, items)

    def and_expr(self) -> Node:
        items = [self.unary()]
        while self.is_keyword(self.peek(), "and"):
            self.i += 1
            items.append(self.unary())
        return _flatten(And, items)

    def unary(self) -> Node:
        if self.is_keyword(self.peek(), "not"):
            self.i += 1
            return Not(self.unary())
        return self.traversal()

    def traversal(self) -> Node:
        up: int | None = 0
        tok, nxt = self.peek(), self.peek(1)
        if tok and tok.kind == "word" and _DIGITS.match(tok.text) and nxt and nxt.kind == "+" and not nxt.spaced:
            up = int(tok.text)
            self.i += 2
        elif tok and tok.kind == "+":
            up = None
            self.i += 1
        if up != 0 or (tok and tok.kind == "+"):
            after = self.peek()
            if after is None or after.spaced:
                raise self.error("'+' must be directly followed by an asset term", after)
        child = self.primary()
        down: int | None = 0
        tok = self.peek()
        if tok and tok.kind == "+" and not tok.spaced:
            self.i += 1
            down = None
            num = self.peek()
            if num and num.kind == "word" and _DIGITS.match(num.text) and not num.spaced:
                down = int(num.text)
                self.i += 1
        if up == 0 and down == 0:
            return child
        return Traverse(child, up, down)

    def primary(self) -> Node:
        tok = self.peek()
        if tok is None:
            raise self.error("expected an asset term")
        if tok.kind == "(":
            self.i += 1
            node = self.expr()
            close = self.peek()
            if close is None or close.kind != ")":
                raise self.error("missing ')'", close)
            self.i += 1
            return node
        if tok.kind == "string":
            self.i += 1
            return self._leaf("key", tok.text, tok)
        if tok.kind != "word" or tok.text.lower() in ("and", "or", "not"):
            raise self.error(f"expected an asset term, got {tok.text!r}", tok)
        self.i += 1
        method, sep, value = tok.text.partition(":")
        if not sep:
            return self._leaf("key", tok.text, tok)
        if not value:
            quoted = self.peek()
            if quoted is None or quoted.kind != "string" or quoted.spaced:
                raise self.error(f"'{method}:' needs a value", quoted or tok)
            self.i += 1
            value = quoted.text
        return self._leaf(method, value, tok)

    def _leaf(self, method: str, value: str, tok: _Tok) -> Leaf:
        if method not in METHODS:
            raise UnknownSelectorMethod(method, list(METHODS))
        if not value.strip():
            raise self.error("empty value", tok)
        return Leaf(method, value)


def _flatten(cls: type, items: list[Node]) -> Node:
    if len(items) == 1:
        return items[0]
    flat: list[Node] = []
    for item in items:
        flat.extend(item.items if isinstance(item, cls) else [item])  # type: ignore[attr-defined]
    return cls(tuple(flat))


def parse(text: str) -> Node:
    """Parse a selection string into its AST."""
    if not isinstance(text, str):
        raise SelectionSyntaxError(str(text), 0, "selection must be a string")
    return _Parser(text).parse()
