/** printable(): zone-controlled text made safe for a terminal or a log line. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { q } from "../../src/native/errors.js";
import { printable } from "../../src/native/printable.js";

describe("printable", () => {
  test("ordinary text, ASCII and other Unicode, is unchanged", () => {
    for (const s of ["", "/sbin/init", "sleep 60", "web-01 10.213.41.2/24", "Grüße, 日本語, émoji 🎉", "a'b\"c"]) {
      assert.equal(printable(s), s);
      assert.equal(printable(Buffer.from(s)), s);
    }
  });

  test("C0 controls, DEL and the backslash are escaped", () => {
    assert.equal(printable("a\nb\tc\rd"), "a\\nb\\tc\\rd");
    assert.equal(printable("\x1b]0;T\x07"), "\\x1b]0;T\\x07");
    assert.equal(printable("\x00\x01\x1f\x7f"), "\\x00\\x01\\x1f\\x7f");
    assert.equal(printable("C:\\x1b"), "C:\\\\x1b", "a literal backslash cannot pass for an escape");
  });

  test("C1 controls, bidi controls and Unicode line separators are escaped", () => {
    assert.equal(printable("\u0085\u009b31m"), "\\u0085\\u009b31m");
    assert.equal(printable("abc\u202edcba"), "abc\\u202edcba");
    for (const c of [0x061c, 0x200e, 0x200f, 0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x2066, 0x2067, 0x2068, 0x2069, 0x2028, 0x2029])
      assert.equal(printable(String.fromCodePoint(c)), `\\u${c.toString(16).padStart(4, "0")}`);
    assert.equal(printable("\ud800x"), "\\ud800x", "a lone surrogate");
  });

  test("bytes: valid UTF-8 decoded, invalid bytes shown as \\xNN, never as U+FFFD", () => {
    assert.equal(printable(Buffer.from([0x78, 0xff, 0x79])), "x\\xffy");
    assert.equal(printable(Buffer.from([0xc3, 0xa9])), "é");
    assert.equal(printable(Buffer.from([0xc3])), "\\xc3", "a truncated sequence");
    assert.equal(printable(Buffer.from([0xc0, 0xaf])), "\\xc0\\xaf", "an overlong form");
    assert.equal(printable(Buffer.from([0xed, 0xa0, 0x80])), "\\xed\\xa0\\x80", "an encoded surrogate");
    assert.equal(printable(Buffer.from([0xf4, 0x90, 0x80, 0x80])), "\\xf4\\x90\\x80\\x80", "above U+10FFFF");
    assert.equal(printable(Buffer.from("\u0085\u202e\n", "utf8")), "\\u0085\\u202e\\n", "controls encoded in UTF-8");
    assert.equal(printable(Buffer.from("a\x1bb")), "a\\x1bb");
    const sub = Buffer.from("..x\x1b..").subarray(2, 4);
    assert.equal(printable(sub), "x\\x1b", "a Buffer that is a view into a larger one");
  });

  test("the output never holds a control, separator or bidi character", () => {
    const all = Buffer.alloc(256);
    for (let i = 0; i < 256; i++) all[i] = i;
    const outs = [printable(all), printable(all.toString("latin1")), printable(Array.from({ length: 0x2100 }, (_, i) => String.fromCharCode(i)).join(""))];
    for (const out of outs) assert.doesNotMatch(out, /[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/);
  });

  test("q() quotes messages with the same escapes", () => {
    assert.equal(q("web"), '"web"');
    assert.equal(q('a"b'), '"a\\"b"');
    assert.equal(q("x\n\x1b\u202e"), '"x\\n\\x1b\\u202e"');
  });
});
