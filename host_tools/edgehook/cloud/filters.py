"""Octave filter expressions: a tokenizer and recursive-descent parser to a predicate (no eval).

Grammar (the documented subset, reference B.6):
    expr    := and ('||' and)*
    and     := unary ('&&' unary)*
    unary   := '!' unary | '(' expr ')' | 'EXISTS' field | compare
    compare := operand (CMP operand | 'IN' list | 'CONTAINS' list)
    operand := term ('%' term)?
    term    := field | number | string | true | false | null
    list    := '[' [term (',' term)*] ']'
Our reading of the open points: a comparison with a missing field is false (`!=` too);
`<`/`>` compare numbers with numbers and strings with strings only; `a % b` needs numbers.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from edgehook.cloud.errors import Invalid

MISSING: Any = object()
MAX_DEPTH = 64
Predicate = Callable[[dict], bool]


class FilterError(Invalid):
    """A filter that does not parse; names the position (0-based character offset)."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(f"bad filter at position {position}: {message}")
        self.position = position


@dataclass
class Token:
    kind: str  # op, num, str, name, kw, end
    value: Any
    pos: int


_TOKEN = re.compile(
    r"""\s*(?:
      (?P<num>-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
    | (?P<str>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
    | (?P<op>==|!=|<=|>=|&&|\|\||[<>!%()\[\],])
    | (?P<name>[A-Za-z_$][A-Za-z0-9_$]*(?:\.[A-Za-z0-9_$:-]+)*)
    )""",
    re.VERBOSE,
)
_KEYWORDS = {"IN", "CONTAINS", "EXISTS", "true", "false", "null"}
_UNESCAPE = re.compile(r"\\(.)")


def tokenize(text: str) -> list[Token]:
    tokens, pos = [], 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos >= len(text):
            tokens.append(Token("end", None, pos))
            return tokens
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise FilterError(f"unexpected character {text[pos]!r}", pos)
        start = m.start(m.lastgroup or 0)
        kind, raw = m.lastgroup or "", m.group(m.lastgroup or 0)
        if kind == "num":
            value: Any = float(raw) if any(c in raw for c in ".eE") else int(raw)
        elif kind == "str":
            value = _UNESCAPE.sub(r"\1", raw[1:-1])
        elif kind == "name" and raw in _KEYWORDS:
            kind, value = "kw", raw
        else:
            value = raw
        tokens.append(Token(kind, value, start))
        pos = m.end()


def lookup(obj: Any, dotted: str) -> Any:
    """The value at a dotted path, or MISSING."""
    for part in dotted.split("."):
        if isinstance(obj, dict) and part in obj:
            obj = obj[part]
        else:
            return MISSING
    return obj


def _num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _eq(a: Any, b: Any) -> bool:
    if _num(a) and _num(b):
        return a == b
    return type(a) is type(b) and a == b


def compare(op: str, a: Any, b: Any) -> bool:
    """One comparison under our reading (missing → false, no cross-type ordering)."""
    if a is MISSING or b is MISSING:
        return False
    if op == "==":
        return _eq(a, b)
    if op == "!=":
        return not _eq(a, b)
    if not ((_num(a) and _num(b)) or (isinstance(a, str) and isinstance(b, str))):
        return False
    return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]


def modulo(a: Any, b: Any) -> Any:
    if not (_num(a) and _num(b)) or b == 0:
        return MISSING
    return a % b


def contains(container: Any, values: list) -> bool:
    """CONTAINS [..]: an array holding one of the values, or a string holding one as substring."""
    if isinstance(container, list):
        return any(_eq(item, v) for item in container for v in values)
    if isinstance(container, str):
        return any(isinstance(v, str) and v in container for v in values)
    return False


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.i = 0
        self.depth = 0

    def peek(self) -> Token:
        return self.tokens[self.i]

    def take(self) -> Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def expect(self, kind: str, value: Any = None) -> Token:
        tok = self.take()
        if tok.kind != kind or (value is not None and tok.value != value):
            want = value or kind
            raise FilterError(f"expected {want!r}, found {_describe(tok)}", tok.pos)
        return tok

    def is_op(self, value: str) -> bool:
        tok = self.peek()
        return tok.kind in ("op", "kw") and tok.value == value

    def parse(self) -> Predicate:
        pred = self.expr()
        tok = self.peek()
        if tok.kind != "end":
            raise FilterError(f"unexpected {_describe(tok)}", tok.pos)
        return pred

    def expr(self) -> Predicate:
        parts = [self.conj()]
        while self.is_op("||"):
            self.take()
            parts.append(self.conj())
        return parts[0] if len(parts) == 1 else (lambda ev: any(p(ev) for p in parts))

    def conj(self) -> Predicate:
        parts = [self.unary()]
        while self.is_op("&&"):
            self.take()
            parts.append(self.unary())
        return parts[0] if len(parts) == 1 else (lambda ev: all(p(ev) for p in parts))

    def unary(self) -> Predicate:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise FilterError(f"nested deeper than {MAX_DEPTH}", self.peek().pos)
        try:
            return self._unary()
        finally:
            self.depth -= 1

    def _unary(self) -> Predicate:
        if self.is_op("!"):
            self.take()
            inner = self.unary()
            return lambda ev: not inner(ev)
        if self.is_op("("):
            self.take()
            inner = self.expr()
            self.expect("op", ")")
            return inner
        if self.is_op("EXISTS"):
            self.take()
            name = self.expect("name").value
            return lambda ev: lookup(ev, name) is not MISSING
        return self.compare()

    def compare(self) -> Predicate:
        left = self.operand()
        tok = self.take()
        if tok.kind == "op" and tok.value in ("==", "!=", "<", "<=", ">", ">="):
            op, right = tok.value, self.operand()
            return lambda ev: compare(op, left(ev), right(ev))
        if tok.kind == "kw" and tok.value in ("IN", "CONTAINS"):
            values = self.literal_list()
            if tok.value == "IN":
                return lambda ev: any(compare("==", left(ev), v) for v in values)
            return lambda ev: contains(left(ev), values)
        raise FilterError(f"expected a comparison operator, found {_describe(tok)}", tok.pos)

    def operand(self) -> Callable[[dict], Any]:
        left = self.term()
        if self.is_op("%"):
            self.take()
            right = self.term()
            return lambda ev: modulo(left(ev), right(ev))
        return left

    def term(self) -> Callable[[dict], Any]:
        tok = self.take()
        if tok.kind == "name":
            name = tok.value
            return lambda ev: lookup(ev, name)
        if tok.kind in ("num", "str") or (tok.kind == "kw" and tok.value in ("true", "false", "null")):
            value = _literal(tok)
            return lambda ev: value
        raise FilterError(f"expected a field or a value, found {_describe(tok)}", tok.pos)

    def literal_list(self) -> list:
        self.expect("op", "[")
        values: list = []
        if self.is_op("]"):
            self.take()
            return values
        while True:
            tok = self.take()
            if tok.kind not in ("num", "str", "kw") or tok.value in ("IN", "CONTAINS", "EXISTS"):
                raise FilterError(f"expected a value in the list, found {_describe(tok)}", tok.pos)
            values.append(_literal(tok))
            sep = self.take()
            if sep.kind == "op" and sep.value == "]":
                return values
            if not (sep.kind == "op" and sep.value == ","):
                raise FilterError(f"expected ',' or ']', found {_describe(sep)}", sep.pos)


def _literal(tok: Token) -> Any:
    if tok.kind == "kw":
        return {"true": True, "false": False, "null": None}[tok.value]
    return tok.value


def _describe(tok: Token) -> str:
    return "the end" if tok.kind == "end" else repr(str(tok.value))


def parse_filter(text: str | None) -> Predicate | None:
    """A predicate for `text`, None for an empty filter; FilterError (400) names the position."""
    if text is None or not text.strip():
        return None
    if len(text) > 4000:
        raise FilterError("filter longer than 4000 characters", 4000)
    return _Parser(text).parse()
