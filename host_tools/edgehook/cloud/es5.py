"""ES5.1 strict check of Cloud Action / Task source with a real JavaScript parser (esprima).

Octave's Action Runner runs ES5.1 strict mode; esprima parses ES2017, so everything later
than ES5.1 is found by walking the tree. Positions are 1-based line and column of the source.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import esprima

from edgehook.cloud.errors import Invalid

# The source is checked as `"use strict";\n(<source>)`: line 1 of the source is line 2 here.
_PREFIX = '"use strict";\n('

_NODE_FEATURES = {
    "ArrowFunctionExpression": "arrow functions",
    "ClassDeclaration": "classes",
    "ClassExpression": "classes",
    "TemplateLiteral": "template literals",
    "TaggedTemplateExpression": "template literals",
    "ObjectPattern": "destructuring",
    "ArrayPattern": "destructuring",
    "SpreadElement": "spread (...)",
    "RestElement": "rest parameters (...)",
    "ForOfStatement": "for-of",
    "AssignmentPattern": "default parameters",
    "YieldExpression": "generators",
    "AwaitExpression": "async/await",
    "MetaProperty": "new.target",
    "Super": "classes",
    "ImportDeclaration": "modules",
    "ExportNamedDeclaration": "modules",
}


@dataclass
class Es5Problem:
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}, column {self.column}: {self.message}"


def problems(source: str) -> list[Es5Problem]:
    """Every ES5.1-strict problem in `source` (a syntax error stops at the first)."""
    try:
        tree = esprima.parseScript(_PREFIX + source + "\n)", {"loc": True})
    except esprima.Error as exc:
        line, col = _position(source, getattr(exc, "index", 0) - len(_PREFIX))
        msg = str(getattr(exc, "message", exc)).split(": ", 1)[-1]
        return [Es5Problem(line, col, f"syntax error: {msg}")]
    found: list[Es5Problem] = []
    _walk(tree, found)
    found.sort(key=lambda p: (p.line, p.column))
    return found


def _walk(node: Any, found: list[Es5Problem]) -> None:
    if isinstance(node, list):
        for item in node:
            _walk(item, found)
        return
    if not isinstance(node, esprima.nodes.Node):
        return
    message = _feature(node)
    if message:
        line, col = _loc(node)
        found.append(Es5Problem(line, col, message))
    for key, value in vars(node).items():
        if key not in ("loc", "type", "range"):
            _walk(value, found)


def _feature(node: Any) -> str | None:
    kind = node.type
    feature = _NODE_FEATURES.get(kind)
    if kind == "VariableDeclaration" and node.kind in ("let", "const"):
        feature = f"`{node.kind}` declarations"
    if kind in ("FunctionDeclaration", "FunctionExpression"):
        if getattr(node, "generator", False):
            feature = "generators"
        if getattr(node, "isAsync", False):
            feature = "async functions"
    if kind == "Property" and (node.shorthand or node.method or node.computed):
        feature = "shorthand, method or computed properties"
    if kind == "CallExpression" and getattr(node.callee, "type", "") == "Identifier":
        if node.callee.name == "eval":
            return "eval is not allowed in the Action Runner"
    return f"not ES5.1: {feature}" if feature else None


def _loc(node: Any) -> tuple[int, int]:
    start = node.loc.start
    line, col = start.line - 1, start.column + 1
    if line == 1:
        col -= 1  # the `(` before the source
    return max(line, 1), max(col, 1)


def _position(source: str, index: int) -> tuple[int, int]:
    index = max(0, min(index, len(source)))
    before = source[:index]
    line = before.count("\n") + 1
    return line, index - (before.rfind("\n") + 1) + 1


def check_function(source: str, arity: int | None, what: str = "js") -> None:
    """Invalid unless `source` is one ES5.1 strict function expression (of `arity` params)."""
    found = problems(source)
    if found:
        raise Invalid(f"{what} is not ES5.1 strict: " + "; ".join(str(p) for p in found[:5]))
    tree = esprima.parseScript("(" + source + "\n)")
    body = tree.body
    if len(body) != 1 or body[0].type != "ExpressionStatement" or body[0].expression.type != "FunctionExpression":
        raise Invalid(f"{what} must be a single function expression, e.g. function(event) {{ ... }}")
    params = len(body[0].expression.params)
    if arity is not None and params != arity:
        raise Invalid(f"{what} must be a function of {arity} parameter(s), it takes {params}")
