import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { Cursor, type Value } from "../../src/document/grammar.js";
import { lex, SyntaxError } from "../../src/document/lexer.js";

/** A cursor over the single command in `text`. */
function cursor(text: string, firstLine = 1): Cursor {
  const cmds = lex(text, firstLine);
  assert.equal(cmds.length, 1, `expected one command in ${JSON.stringify(text)}`);
  return new Cursor(cmds[0]!);
}

/** The value after `set x=` (the whole command must be consumed). */
function valueOf(text: string): Value {
  const c = cursor(`set x=${text}`);
  assert.equal(c.word("command"), "set");
  assert.equal(c.word("property"), "x");
  c.expect("=", "after x");
  const v = c.value();
  c.end("the value");
  assert.ok(c.done);
  return v;
}

function syntaxError(fn: () => unknown, pattern: RegExp): SyntaxError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof SyntaxError, `expected a SyntaxError, got ${String(e)}`);
    assert.match(e.message, pattern);
    return e;
  }
  assert.fail("expected a SyntaxError");
}

describe("Cursor.value", () => {
  test("a bare simple value", () => {
    assert.deepEqual(valueOf("/zones/web"), { kind: "simple", value: "/zones/web" });
  });

  test("fs options hold '=' as illumos writes them, in a list, bare or quoted", () => {
    assert.deepEqual(valueOf("[size=512m,mode=1777]"), {
      kind: "list",
      items: [
        { kind: "simple", value: "size=512m" },
        { kind: "simple", value: "mode=1777" },
      ],
    });
    assert.deepEqual(valueOf("size=512m"), { kind: "simple", value: "size=512m" });
    assert.deepEqual(valueOf('"size=512m"'), { kind: "simple", value: "size=512m" });
    syntaxError(() => valueOf("[size=]"), /value after '=' in "size" expected, found '\]'/);
  });

  test("a quoted simple value", () => {
    assert.deepEqual(valueOf('"a b=c"'), { kind: "simple", value: "a b=c" });
  });

  test("a quoted value that looks like a list stays simple", () => {
    assert.deepEqual(valueOf('"[ro,nodevices]"'), { kind: "simple", value: "[ro,nodevices]" });
  });

  test("a complex value keeps its pairs in order", () => {
    assert.deepEqual(valueOf("(priv=privileged,limit=5,action=deny)"), {
      kind: "complex",
      pairs: [
        ["priv", "privileged"],
        ["limit", "5"],
        ["action", "deny"],
      ],
    });
  });

  test("action=signal=SIGTERM joins the parts with '='", () => {
    assert.deepEqual(valueOf("(priv=basic,limit=10,action=signal=SIGTERM)"), {
      kind: "complex",
      pairs: [
        ["priv", "basic"],
        ["limit", "10"],
        ["action", "signal=SIGTERM"],
      ],
    });
  });

  test("quoted parts of a complex value", () => {
    assert.deepEqual(valueOf('(name=x,value="a,b (c)")'), {
      kind: "complex",
      pairs: [
        ["name", "x"],
        ["value", "a,b (c)"],
      ],
    });
  });

  test("a list of simple values", () => {
    assert.deepEqual(valueOf("[ro,nodevices]"), {
      kind: "list",
      items: [
        { kind: "simple", value: "ro" },
        { kind: "simple", value: "nodevices" },
      ],
    });
  });

  test("a one-item list", () => {
    assert.deepEqual(valueOf("[ro]"), { kind: "list", items: [{ kind: "simple", value: "ro" }] });
  });

  test("a list of complex values", () => {
    assert.deepEqual(valueOf("[(priv=basic,limit=1,action=none),(priv=privileged,limit=2,action=deny)]"), {
      kind: "list",
      items: [
        {
          kind: "complex",
          pairs: [
            ["priv", "basic"],
            ["limit", "1"],
            ["action", "none"],
          ],
        },
        {
          kind: "complex",
          pairs: [
            ["priv", "privileged"],
            ["limit", "2"],
            ["action", "deny"],
          ],
        },
      ],
    });
  });

  test("a mixed list of simple and complex items", () => {
    assert.deepEqual(valueOf('[a,(k=v),"q r"]'), {
      kind: "list",
      items: [
        { kind: "simple", value: "a" },
        { kind: "complex", pairs: [["k", "v"]] },
        { kind: "simple", value: "q r" },
      ],
    });
  });

  test("[] is the empty list", () => {
    assert.deepEqual(valueOf("[]"), { kind: "list", items: [] });
  });

  test("a missing comma between list items is an error", () => {
    syntaxError(() => valueOf("[a b]"), /',' expected between list items/);
  });

  test("an unclosed list is an error", () => {
    syntaxError(() => valueOf("[a,b"), /','/);
  });

  test("a complex part without '=' is an error naming the part", () => {
    syntaxError(() => valueOf("(priv)"), /'=' expected after 'priv'/);
  });

  test("a complex part without a value is an error", () => {
    syntaxError(() => valueOf("(priv=)"), /value of 'priv' expected, found '\)'/);
  });

  test("an unclosed complex value is an error", () => {
    syntaxError(() => valueOf("(a=1"), /between complex value parts/);
  });

  test("a missing value is an error", () => {
    syntaxError(() => valueOf(""), /value expected/);
  });

  test("a lone punctuation token is not a value", () => {
    syntaxError(() => valueOf("]"), /value expected, found '\]'/);
  });

  test("trailing tokens are reported by end()", () => {
    syntaxError(() => valueOf("a b"), /unexpected 'b' after the value/);
  });

  test("errors carry the line of the offending token", () => {
    const c = cursor("set x=[a b]", 42);
    c.next();
    c.next();
    c.next();
    const e = syntaxError(() => c.value(), /between list items/);
    assert.equal(e.line, 42);
  });
});

describe("Cursor.pairs", () => {
  test("reads prop=value pairs up to the end", () => {
    const c = cursor('select fs dir=/a type=lofs special="/x y"');
    c.word("command");
    c.word("type");
    assert.deepEqual(c.pairs(3), [
      ["dir", "/a"],
      ["type", "lofs"],
      ["special", "/x y"],
    ]);
    assert.ok(c.done);
  });

  test("no pairs is an empty array", () => {
    const c = cursor("select capped-memory");
    c.word("command");
    c.word("type");
    assert.deepEqual(c.pairs(3), []);
  });

  test("more than max pairs is an error", () => {
    const c = cursor("remove fs a=1 b=2 c=3 d=4");
    c.word("command");
    c.word("type");
    syntaxError(() => c.pairs(3), /at most 3 property=value pairs/);
  });

  test("max is honoured exactly", () => {
    const c = cursor("remove fs a=1 b=2");
    c.word("command");
    c.word("type");
    syntaxError(() => c.pairs(1), /at most 1 property=value pairs/);
  });

  test("a pair without '=' is an error", () => {
    const c = cursor("select fs dir");
    c.word("command");
    c.word("type");
    syntaxError(() => c.pairs(3), /'=' expected after 'dir'/);
  });

  test("a quoted property name is refused", () => {
    const c = cursor('select fs "dir"=/a');
    c.word("command");
    c.word("type");
    syntaxError(() => c.pairs(3), /property name expected/);
  });
});

describe("Cursor.flags", () => {
  test("reads allowed flags and stops at the first non-flag", () => {
    const c = cursor("remove -F fs dir=/a");
    c.word("command");
    const f = c.flags("F");
    assert.deepEqual([...f.entries()], [["F", ""]]);
    assert.equal(c.word("type"), "fs");
  });

  test("no flags gives an empty map and consumes nothing", () => {
    const c = cursor("remove fs");
    c.word("command");
    assert.equal(c.flags("F").size, 0);
    assert.equal(c.peek()?.text, "fs");
  });

  test("a flag with an argument takes the next value", () => {
    const c = cursor('create -F -a "/zones/old web"');
    c.word("command");
    const f = c.flags("Fb", "at");
    assert.equal(f.get("F"), "");
    assert.equal(f.get("a"), "/zones/old web");
    assert.ok(c.done);
  });

  test("a missing flag argument is an error", () => {
    const c = cursor("create -t");
    c.word("command");
    syntaxError(() => c.flags("b", "t"), /argument of -t expected/);
  });

  test("an unknown flag is an error naming it", () => {
    const c = cursor("remove -x fs");
    c.word("command");
    syntaxError(() => c.flags("F"), /unknown option '-x'/);
  });

  test("multi-letter or quoted dashes are not flags", () => {
    const c = cursor('create -Fb "-F"');
    c.word("command");
    assert.equal(c.flags("Fb").size, 0);
    assert.equal(c.next()?.text, "-Fb");
    assert.equal(c.flags("F").size, 0);
    assert.equal(c.next()?.kind, "string");
  });
});

describe("Cursor basics", () => {
  test("word refuses a quoted string, simple accepts it", () => {
    const c = cursor('"add" "fs"');
    syntaxError(() => c.word("command"), /command expected, found 'add'/);
    const d = cursor('"add" "fs"');
    assert.equal(d.simple("command"), "add");
  });

  test("accept consumes only the expected kind", () => {
    const c = cursor("set x=1");
    assert.equal(c.accept("="), false);
    assert.equal(c.word("cmd"), "set");
    assert.equal(c.word("prop"), "x");
    assert.equal(c.accept("="), true);
    assert.equal(c.simple("value"), "1");
    assert.ok(c.done);
    assert.equal(c.peek(), undefined);
  });
});
