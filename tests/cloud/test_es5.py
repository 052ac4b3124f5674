"""The ES5.1-strict check: each later feature is rejected with its line and column."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from edgehook.cli import cli
from edgehook.cloud import es5
from edgehook.cloud.errors import Invalid


@pytest.mark.parametrize(
    "body,line,column,message",
    [
        ("  let x = 1;", 2, 3, "`let`"),
        ("  const x = 1;", 2, 3, "`const`"),
        ("  var f = (a) => a;", 2, 11, "arrow functions"),
        ("  class A {}", 2, 3, "classes"),
        ("  var s = `t${event}`;", 2, 11, "template literals"),
        ("  var {a, b} = event;", 2, 7, "destructuring"),
        ("  var [a] = [1];", 2, 7, "destructuring"),
        ("  var a = [].concat(...[1]);", 2, 21, "spread"),
        ("  for (var v of [1]) {}", 2, 3, "for-of"),
        ("  function f(a, b = 2) { return a; }", 2, 17, "default parameters"),
        ("  function f(...r) { return r; }", 2, 14, "rest"),
        ("  function* g() { yield 1; }", 2, 3, "generators"),
        ("  var f = async function () { await 1; };", 2, 11, "async"),
        ("  var o = {a};", 2, 12, "shorthand"),
        ("  var o = {m() { return 1; }};", 2, 12, "shorthand, method"),
        ("  return eval('1');", 2, 10, "eval"),
        ("  return 1 +;", 2, 13, "syntax error"),
        ("  return 010;", 2, 10, "syntax error"),
    ],
)
def test_rejections_with_positions(body, line, column, message):
    src = "function(event) {\n" + body + "\n}"
    found = es5.problems(src)
    assert found, src
    assert (found[0].line, found[0].column) == (line, column), found
    assert message in found[0].message
    with pytest.raises(Invalid) as exc:
        es5.check_function(src, arity=1)
    assert f"line {line}, column {column}" in str(exc.value)


def test_es5_accepted_and_shape_checked():
    ok = """function(event) {
  var out = {}, i;
  for (i = 0; i < 3; i++) { out["k" + i] = [{elems: {n: i}}]; }
  try { JSON.parse("x"); } catch (e) { out.err = e.message; }
  return out;
}"""
    assert es5.problems(ok) == []
    es5.check_function(ok, arity=1)
    es5.check_function("function() { return null; }", arity=None)
    for bad, why in [("1 + 2", "single function"), ("function(a, b) {}", "1 parameter"),
                     ("function(a) {}; function(b) {}", "syntax error")]:
        with pytest.raises(Invalid) as exc:
            es5.check_function(bad, arity=1)
        assert why in str(exc.value)


def test_cli_check(tmp_path):
    good, bad = tmp_path / "good.js", tmp_path / "bad.js"
    good.write_text("function(event) { return {}; }\n")
    bad.write_text("function(event) {\n  let x = () => 1;\n}\n")
    runner = CliRunner()
    result = runner.invoke(cli, ["cloud", "check", str(good)])
    assert result.exit_code == 0 and "good.js: ok" in result.output
    result = runner.invoke(cli, ["cloud", "check", str(good), str(bad)])
    assert result.exit_code != 0
    assert f"{bad}:2:3: not ES5.1: `let` declarations" in result.output
    assert f"{bad}:2:11: not ES5.1: arrow functions" in result.output
