"""The filter parser: documented forms, errors with positions, and property tests (never
crashes; agrees with an independent Python evaluation of the same expression)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edgehook.cloud.filters import FilterError, parse_filter

EVENT = {"path": "/c/x", "hash": "k", "elems": {"temp": 31, "s": "hello", "tags": ["a", "b"], "on": True}}


@pytest.mark.parametrize(
    "text,expected",
    [
        ("elems.temp > 30", True),
        ("elems.temp > 31", False),
        ("path == '/c/x'", True),
        ('hash=="k"', True),
        ("elems.temp >= 30 && elems.s == 'hello'", True),
        ("elems.temp < 30 || elems.on == true", True),
        ("!(elems.temp < 30)", True),
        ("EXISTS elems.s", True),
        ("EXISTS elems.nope", False),
        ("!EXISTS elems.nope", True),
        ("elems.temp IN [1, 31]", True),
        ("elems.s IN ['a']", False),
        ("elems.tags CONTAINS ['b']", True),
        ("elems.s CONTAINS ['ell']", True),
        ("elems.temp % 10 == 1", True),
        ("elems.temp % 0 == 1", False),
        ("elems.nope != 3", False),
        ("elems.temp == '31'", False),
        ("elems.s > 5", False),
        ("elems.temp >= elems.temp", True),
        ("elems.on == 1", False),
        ("elems.temp == 31.0", True),
        ("elems.temp != -2e3", True),
    ],
)
def test_documented_forms(text, expected):
    assert parse_filter(text)(EVENT) is expected


@pytest.mark.parametrize(
    "text,position",
    [("elems.temp >", 12), ("(a == 1", 7), ("a == 1 b", 7), ("a ~ 1", 2), ("a IN [1,", 8),
     ("a IN 1", 5), ("EXISTS 3", 7), ("== 1", 0), ("a == 'x", 5), ("a && b", 2)],
)
def test_errors_name_the_position(text, position):
    with pytest.raises(FilterError) as exc:
        parse_filter(text)
    assert exc.value.position == position and f"position {position}" in str(exc.value)


def test_limits():
    assert parse_filter("") is None and parse_filter("  ") is None
    with pytest.raises(FilterError):
        parse_filter("(" * 100 + "a == 1" + ")" * 100)
    with pytest.raises(FilterError):
        parse_filter("a == 1 && " * 500 + "a == 1")
    assert parse_filter("(" * 20 + "a == 1" + ")" * 20)({"a": 1})


# -- property tests ---------------------------------------------------------------------------
FIELDS = ["elems.a", "elems.b", "elems.s", "elems.arr", "elems.deep.x", "path", "hash", "missing.z"]
scalars = st.one_of(
    st.integers(-5, 5), st.floats(-5, 5, allow_nan=False).map(lambda f: round(f, 2)),
    st.sampled_from(["a", "b", "x y", "it's", ""]), st.booleans(), st.none(),
)
events = st.fixed_dictionaries(
    {"path": st.sampled_from(["/c/x", "/c/y"]), "hash": st.one_of(st.none(), st.sampled_from(["k1", "k2"]))},
    optional={"elems": st.fixed_dictionaries({}, optional={
        "a": scalars, "b": scalars, "s": scalars, "arr": st.lists(scalars, max_size=3),
        "deep": st.fixed_dictionaries({}, optional={"x": scalars})})},
)


def _lit(v):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return "'" + v.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return repr(v)


MISSING = object()


def _get(ev, field):
    for part in field.split("."):
        if not isinstance(ev, dict) or part not in ev:
            return MISSING
        ev = ev[part]
    return ev


def _isnum(v):
    return type(v) in (int, float)


def _same(a, b):
    if _isnum(a) and _isnum(b):
        return a == b
    return type(a) is type(b) and a == b


def _cmp(op, a, b):
    if a is MISSING or b is MISSING:
        return False
    if op == "==":
        return _same(a, b)
    if op == "!=":
        return not _same(a, b)
    if (_isnum(a) and _isnum(b)) or (type(a) is str and type(b) is str):
        return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]
    return False


operand = st.one_of(
    st.sampled_from(FIELDS).map(lambda f: ("field", f)),
    scalars.map(lambda v: ("lit", v)),
    st.tuples(st.sampled_from(FIELDS), st.integers(-3, 3)).map(lambda t: ("mod", t[0], t[1])),
)


def _leaf():
    return st.one_of(
        st.tuples(st.just("cmp"), operand, st.sampled_from(["==", "!=", "<", "<=", ">", ">="]), operand),
        st.tuples(st.just("in"), st.sampled_from(FIELDS), st.lists(scalars, max_size=3)),
        st.tuples(st.just("contains"), st.sampled_from(FIELDS), st.lists(scalars, max_size=3)),
        st.tuples(st.just("exists"), st.sampled_from(FIELDS)),
    )


exprs = st.recursive(
    _leaf(),
    lambda inner: st.one_of(
        st.tuples(st.just("not"), inner),
        st.tuples(st.sampled_from(["and", "or"]), inner, inner),
    ),
    max_leaves=8,
)


def render(node):
    kind = node[0]
    if kind == "cmp":
        return f"{_render_operand(node[1])} {node[2]} {_render_operand(node[3])}"
    if kind in ("in", "contains"):
        return f"{node[1]} {kind.upper()} [{', '.join(_lit(v) for v in node[2])}]"
    if kind == "exists":
        return f"EXISTS {node[1]}"
    if kind == "not":
        return f"!({render(node[1])})"
    return f"({render(node[1])}) {'&&' if kind == 'and' else '||'} ({render(node[2])})"


def _render_operand(op):
    if op[0] == "field":
        return op[1]
    if op[0] == "lit":
        return _lit(op[1])
    return f"{op[1]} % {op[2]}"


def _value(op, ev):
    if op[0] == "field":
        return _get(ev, op[1])
    if op[0] == "lit":
        return op[1]
    v = _get(ev, op[1])
    if not _isnum(v) or op[2] == 0:
        return MISSING
    return v % op[2]


def evaluate(node, ev):
    kind = node[0]
    if kind == "cmp":
        return _cmp(node[2], _value(node[1], ev), _value(node[3], ev))
    if kind == "in":
        v = _get(ev, node[1])
        return any(_cmp("==", v, x) for x in node[2])
    if kind == "contains":
        v = _get(ev, node[1])
        if type(v) is list:
            return any(_same(i, x) for i in v for x in node[2])
        if type(v) is str:
            return any(type(x) is str and x in v for x in node[2])
        return False
    if kind == "exists":
        return _get(ev, node[1]) is not MISSING
    if kind == "not":
        return not evaluate(node[1], ev)
    if kind == "and":
        return evaluate(node[1], ev) and evaluate(node[2], ev)
    return evaluate(node[1], ev) or evaluate(node[2], ev)


@settings(max_examples=400, deadline=None)
@given(exprs, st.lists(events, min_size=1, max_size=5))
def test_agrees_with_python_evaluation(node, evs):
    text = render(node)
    pred = parse_filter(text)
    for ev in evs:
        assert pred(ev) == evaluate(node, ev), (text, json.dumps(ev))


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=list("elms.ab ()[]!&|=<>%'\",0123456789-EXISTINCOAtruefalsn\\x$:"), max_size=60), events)
def test_never_crashes(text, ev):
    try:
        pred = parse_filter(text)
    except FilterError as exc:
        assert 0 <= exc.position <= len(text)
        return
    if pred is not None:
        assert pred(ev) in (True, False)
