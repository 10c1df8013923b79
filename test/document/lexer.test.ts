import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { lex, needsQuotes, quoteValue, SyntaxError, type CommandTokens, type TokenKind } from "../../src/document/lexer.js";
import { ZoneError } from "../../src/native/errors.js";

/** The tokens of each command as [kind, text] pairs. */
function shape(cmds: CommandTokens[]): Array<Array<[TokenKind, string]>> {
  return cmds.map((c) => c.tokens.map((t): [TokenKind, string] => [t.kind, t.text]));
}

/** Run fn, expect a lexer SyntaxError, and return it. */
function syntaxError(fn: () => unknown): SyntaxError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof SyntaxError, `expected a SyntaxError, got ${String(e)}`);
    assert.ok(e instanceof ZoneError, "a SyntaxError is a ZoneError");
    return e;
  }
  assert.fail("expected a SyntaxError, but nothing was thrown");
}

describe("lex: bare tokens", () => {
  test("a simple set command", () => {
    assert.deepEqual(shape(lex("set zonepath=/zones/web")), [
      [
        ["word", "set"],
        ["word", "zonepath"],
        ["=", "="],
        ["word", "/zones/web"],
      ],
    ]);
  });

  test("blanks, tabs and carriage returns only separate tokens", () => {
    assert.deepEqual(shape(lex("  add\t fs \r\n")), [
      [
        ["word", "add"],
        ["word", "fs"],
      ],
    ]);
  });

  test("punctuation ends a bare token", () => {
    assert.deepEqual(shape(lex("add value (priv=basic,limit=5,action=deny)")), [
      [
        ["word", "add"],
        ["word", "value"],
        ["(", "("],
        ["word", "priv"],
        ["=", "="],
        ["word", "basic"],
        [",", ","],
        ["word", "limit"],
        ["=", "="],
        ["word", "5"],
        [",", ","],
        ["word", "action"],
        ["=", "="],
        ["word", "deny"],
        [")", ")"],
      ],
    ]);
  });

  test("a quote right after a word starts a new token", () => {
    assert.deepEqual(shape(lex('set bootargs=ab"cd"')), [
      [
        ["word", "set"],
        ["word", "bootargs"],
        ["=", "="],
        ["word", "ab"],
        ["string", "cd"],
      ],
    ]);
  });

  test("unusual printable characters stay inside a bare token", () => {
    const cmds = lex("set bootargs=-s\\x{}|&*?!@$%^~`'<>/.");
    assert.equal(cmds.length, 1);
    assert.deepEqual(cmds[0]!.tokens[3], { kind: "word", text: "-s\\x{}|&*?!@$%^~`'<>/.", line: 1 });
  });

  test("empty input and blank lines give no commands", () => {
    assert.deepEqual(lex(""), []);
    assert.deepEqual(lex("\n\n  \t\n;;;\n"), []);
  });
});

describe("lex: quoted strings", () => {
  test("spaces and punctuation inside quotes are kept", () => {
    const cmds = lex('set bootargs="-m verbose; x=[1,2] (a) #no"');
    assert.deepEqual(shape(cmds), [
      [
        ["word", "set"],
        ["word", "bootargs"],
        ["=", "="],
        ["string", "-m verbose; x=[1,2] (a) #no"],
      ],
    ]);
  });

  test('\\" stands for a quote and \\\\ for a backslash', () => {
    const cmds = lex('set value="a\\"b\\\\c"');
    assert.equal(cmds[0]!.tokens[3]!.kind, "string");
    assert.equal(cmds[0]!.tokens[3]!.text, 'a"b\\c');
  });

  test("an escaped quote does not close the string", () => {
    const e = syntaxError(() => lex('set value="abc\\"'));
    assert.match(e.message, /unterminated/);
    assert.equal(lex('set value="abc\\""')[0]!.tokens[3]!.text, 'abc"');
  });

  test("backslashes outside quotes are ordinary characters", () => {
    assert.equal(lex("set value=a\\\\b\\")[0]!.tokens[3]!.text, "a\\\\b\\");
  });

  test("backslash followed by an ordinary character stays two characters", () => {
    const cmds = lex('set value="C:\\dir\\n"');
    assert.equal(cmds[0]!.tokens[3]!.text, "C:\\dir\\n");
  });

  test("a string ending in an escaped backslash closes normally", () => {
    const cmds = lex('set value="x\\\\" ; end');
    assert.equal(cmds.length, 2);
    assert.equal(cmds[0]!.tokens[3]!.text, "x\\");
    assert.deepEqual(shape([cmds[1]!]), [[["word", "end"]]]);
  });

  test('the empty string "" is a token', () => {
    const cmds = lex('set bootargs=""');
    assert.deepEqual(cmds[0]!.tokens[3], { kind: "string", text: "", line: 1 });
  });

  test("tabs are allowed inside quotes", () => {
    assert.equal(lex('set bootargs="a\tb"')[0]!.tokens[3]!.text, "a\tb");
  });
});

describe("lex: command splitting", () => {
  test("';' and newline end commands", () => {
    assert.deepEqual(shape(lex("add fs; set dir=/a\nend")), [
      [
        ["word", "add"],
        ["word", "fs"],
      ],
      [
        ["word", "set"],
        ["word", "dir"],
        ["=", "="],
        ["word", "/a"],
      ],
      [["word", "end"]],
    ]);
  });

  test("each command and token knows its line; firstLine offsets them", () => {
    const cmds = lex("\n\nadd fs;end\n\n  set dir=/x\n", 10);
    assert.deepEqual(
      cmds.map((c) => c.line),
      [12, 12, 14],
    );
    assert.deepEqual(
      cmds[2]!.tokens.map((t) => t.line),
      [14, 14, 14, 14],
    );
  });

  test("a ';' inside quotes does not end the command", () => {
    const cmds = lex('set bootargs="a;b"; end');
    assert.equal(cmds.length, 2);
    assert.equal(cmds[0]!.tokens[3]!.text, "a;b");
  });

  test("an unclosed bracket does not leak into the next command", () => {
    // depth is reset at the end of a command: the comma below is part of a word again
    const cmds = lex("add options [ro\nset limitpriv=default,sys_time");
    assert.equal(cmds.length, 2);
    assert.deepEqual(cmds[1]!.tokens[3], { kind: "word", text: "default,sys_time", line: 2 });
  });
});

describe("lex: comments", () => {
  test("'#' at the start of a command is a comment up to the newline", () => {
    assert.deepEqual(shape(lex("# a comment; set x=1\nend")), [[["word", "end"]]]);
  });

  test("'#' after ';' starts a command, so it is a comment", () => {
    assert.deepEqual(shape(lex("end; # trailing comment\ncancel")), [[["word", "end"]], [["word", "cancel"]]]);
  });

  test("indented comments are comments", () => {
    assert.deepEqual(lex("   \t# only a comment\n"), []);
  });

  test("'#' inside a command is an ordinary character", () => {
    assert.deepEqual(shape(lex("set bootargs=a#b # c")), [
      [
        ["word", "set"],
        ["word", "bootargs"],
        ["=", "="],
        ["word", "a#b"],
        ["word", "#"],
        ["word", "c"],
      ],
    ]);
  });

  test("a comment line does not count as a command's line", () => {
    const cmds = lex("# header\ncreate -b\n# x\nset autoboot=true\n");
    assert.deepEqual(
      cmds.map((c) => c.line),
      [2, 4],
    );
  });
});

describe("lex: commas", () => {
  test("outside brackets a comma is part of a bare token", () => {
    assert.deepEqual(lex("set limitpriv=default,sys_time,-kill")[0]!.tokens[3], {
      kind: "word",
      text: "default,sys_time,-kill",
      line: 1,
    });
  });

  test("inside [] a comma ends a token", () => {
    assert.deepEqual(shape(lex("add options [ro,nodevices]")), [
      [
        ["word", "add"],
        ["word", "options"],
        ["[", "["],
        ["word", "ro"],
        [",", ","],
        ["word", "nodevices"],
        ["]", "]"],
      ],
    ]);
  });

  test("after the closing bracket a comma is part of a token again", () => {
    const toks = lex("set x=[a,b] c,d")[0]!.tokens;
    assert.deepEqual(toks[toks.length - 1], { kind: "word", text: "c,d", line: 1 });
  });

  test("nested brackets and parentheses keep commas as separators", () => {
    const kinds = lex("set value=[(a=1,b=2),(c=3)]")[0]!.tokens.map((t) => t.kind);
    assert.deepEqual(kinds, ["word", "word", "=", "[", "(", "word", "=", "word", ",", "word", "=", "word", ")", ",", "(", "word", "=", "word", ")", "]"]);
  });

  test("a comma inside quotes inside a list is text", () => {
    const toks = lex('add options ["a,b",c]')[0]!.tokens;
    assert.deepEqual(
      toks.map((t) => [t.kind, t.text]),
      [
        ["word", "add"],
        ["word", "options"],
        ["[", "["],
        ["string", "a,b"],
        [",", ","],
        ["word", "c"],
        ["]", "]"],
      ],
    );
  });
});

describe("lex: keywords as values", () => {
  test("subcommand and resource keywords are plain words in value position", () => {
    const cmds = lex("set physical=net; set limitpriv=default; add options end; set name=remove");
    assert.deepEqual(
      cmds.map((c) => c.tokens[c.tokens.length - 1]!),
      [
        { kind: "word", text: "net", line: 1 },
        { kind: "word", text: "default", line: 1 },
        { kind: "word", text: "end", line: 1 },
        { kind: "word", text: "remove", line: 1 },
      ],
    );
  });
});

describe("lex: errors", () => {
  test("an unterminated string names its line", () => {
    const e = syntaxError(() => lex('create -b\nset zonepath=/z\nset bootargs="abc\nend\n'));
    assert.equal(e.line, 3);
    assert.match(e.message, /unterminated/);
  });

  test("an unterminated string at end of input names its line", () => {
    const e = syntaxError(() => lex('a\nb\nc\nset x="never closed', 1));
    assert.equal(e.line, 4);
  });

  test("an unterminated string honours firstLine", () => {
    assert.equal(syntaxError(() => lex('set x="', 7)).line, 7);
  });

  test("a control character outside quotes is an error on its line", () => {
    const e = syntaxError(() => lex("create -b\n\nset bootargs=a\x01b\n"));
    assert.equal(e.line, 3);
    assert.match(e.message, /control character/);
  });

  test("DEL outside quotes is an error", () => {
    assert.equal(syntaxError(() => lex("a\nset x=\x7f")).line, 2);
  });

  test("a control character inside quotes is an error on its line", () => {
    const e = syntaxError(() => lex('end\nend\nend\nset bootargs="a\x02b"'));
    assert.equal(e.line, 4);
    assert.match(e.message, /control character/);
  });

  test("a control character after a comment line is reported on its own line", () => {
    assert.equal(syntaxError(() => lex("# comment\n# more\n\x1b")).line, 3);
  });

  test("a control character inside a comment is ignored", () => {
    assert.deepEqual(shape(lex("# bell \x07 here\nend")), [[["word", "end"]]]);
  });
});

describe("needsQuotes / quoteValue", () => {
  test("plain values need no quotes", () => {
    for (const v of ["abc", "/zones/web", "-s", "default,sys_time", "a#b", "x.y-z_1", "ünïcode"]) {
      assert.equal(needsQuotes(v, false), false, v);
      assert.equal(quoteValue(v), v);
    }
  });

  test("blanks, quotes, ';', '=', brackets and parentheses need quotes", () => {
    for (const v of ["a b", "a\tb", 'a"b', "a;b", "a=b", "[a", "a]", "(a", "a)"]) {
      assert.equal(needsQuotes(v, false), true, v);
      assert.equal(needsQuotes(v, true), true, v);
    }
  });

  test("the empty string needs quotes", () => {
    assert.equal(needsQuotes("", false), true);
    assert.equal(quoteValue(""), '""');
  });

  test("a comma needs quotes only inside a list", () => {
    assert.equal(needsQuotes("a,b", false), false);
    assert.equal(needsQuotes("a,b", true), true);
    assert.equal(quoteValue("a,b"), "a,b");
    assert.equal(quoteValue("a,b", true), '"a,b"');
  });

  test("quoteValue escapes quotes and backslashes", () => {
    assert.equal(quoteValue('say "hi" \\o/'), '"say \\"hi\\" \\\\o/"');
  });

  test("a backslash alone does not force quotes", () => {
    assert.equal(quoteValue("a\\b"), "a\\b");
  });

  test("quoted values lex back to themselves, as a value and as a list item", () => {
    const values = ["", "a b", 'a"b', "a\\b", "a\\", '\\"', "x=y", "a,b", "[x]", "(y)", "a;b", "#c", "p\tq", "\\\\n", 'end" ; set x="1'];
    for (const v of values) {
      const top = lex(`set bootargs=${quoteValue(v)}`);
      assert.equal(top.length, 1, `value ${JSON.stringify(v)}`);
      assert.equal(top[0]!.tokens.length, 4, `value ${JSON.stringify(v)}`);
      assert.equal(top[0]!.tokens[3]!.text, v, `value ${JSON.stringify(v)}`);
      const inList = lex(`add options [${quoteValue(v, true)},z]`);
      assert.equal(inList[0]!.tokens[3]!.text, v, `list item ${JSON.stringify(v)}`);
      assert.equal(inList[0]!.tokens[4]!.kind, ",", `list item ${JSON.stringify(v)}`);
    }
  });

  test("a value holding DEL (accepted inside quotes) is written quoted and lexes back", () => {
    // lex('set bootargs="x\x7fy"') accepts DEL inside quotes, so the value can reach the model.
    const v = lex('set bootargs="x\x7fy"')[0]!.tokens[3]!.text;
    assert.equal(v, "x\x7fy");
    assert.doesNotThrow(() => lex(`set bootargs=${quoteValue(v)}`));
  });
});
