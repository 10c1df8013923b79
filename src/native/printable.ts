/**
 * Text a zone controls (process names, user names, interface names, event payloads,
 * broker requests) made safe to print on the administrator's terminal or in a log.
 * A zone's root chooses those bytes: raw, they could end a line and forge the next
 * one, send terminal escape sequences, or reorder what is shown with bidi overrides.
 *
 * One escape syntax, backslash-based, so that every escape is unambiguous:
 *   \\  the backslash itself (so a zone cannot write a fake escape)
 *   \n \t \r  newline, tab, carriage return
 *   \xNN  other C0 controls and DEL, and any byte that is not valid UTF-8
 *   \uNNNN  C1 controls (U+0080-U+009F), bidi controls (U+061C, U+200E, U+200F,
 *           U+202A-U+202E, U+2066-U+2069), U+2028, U+2029, lone surrogates
 * Everything else, printable ASCII and other Unicode, is shown as it is.
 */
import { isUtf8 } from "node:buffer";

/** Anything that needs work; text without it is returned untouched (the common case). */
const SPECIAL = /[\x00-\x1f\x7f-\x9f\\\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff]/;

const hex = (n: number, width: number): string => n.toString(16).padStart(width, "0");

function escapeCodePoint(c: number): string {
  if (c === 0x5c) return "\\\\";
  if (c === 0x0a) return "\\n";
  if (c === 0x09) return "\\t";
  if (c === 0x0d) return "\\r";
  if (c < 0x20 || c === 0x7f) return `\\x${hex(c, 2)}`;
  if ((c >= 0x80 && c <= 0x9f) || c === 0x061c || c === 0x200e || c === 0x200f || (c >= 0x2028 && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069) || (c >= 0xd800 && c <= 0xdfff))
    return `\\u${hex(c, 4)}`;
  return String.fromCodePoint(c);
}

function escapeString(s: string): string {
  let out = "";
  for (let i = 0; i < s.length; ) {
    const c = s.codePointAt(i)!;
    out += escapeCodePoint(c);
    i += c > 0xffff ? 2 : 1;
  }
  return out;
}

/** Length of the valid UTF-8 sequence at b[i], or 0 (overlong forms, surrogates and > U+10FFFF are invalid). */
function sequenceAt(b: Uint8Array, i: number): number {
  const x = b[i]!;
  const cont = (k: number, lo = 0x80, hi = 0xbf): boolean => i + k < b.length && b[i + k]! >= lo && b[i + k]! <= hi;
  if (x < 0x80) return 1;
  if (x >= 0xc2 && x <= 0xdf) return cont(1) ? 2 : 0;
  if (x >= 0xe0 && x <= 0xef) {
    const lo = x === 0xe0 ? 0xa0 : 0x80;
    const hi = x === 0xed ? 0x9f : 0xbf;
    return cont(1, lo, hi) && cont(2) ? 3 : 0;
  }
  if (x >= 0xf0 && x <= 0xf4) {
    const lo = x === 0xf0 ? 0x90 : 0x80;
    const hi = x === 0xf4 ? 0x8f : 0xbf;
    return cont(1, lo, hi) && cont(2) && cont(3) ? 4 : 0;
  }
  return 0;
}

/** Bytes (read from /proc or a zone's file) as text: invalid UTF-8 shows as \xNN, never as U+FFFD. */
function escapeBytes(b: Uint8Array): string {
  if (!isUtf8(b)) return escapeInvalid(b);
  const text = Buffer.from(b.buffer, b.byteOffset, b.length).toString("utf8");
  return SPECIAL.test(text) ? escapeString(text) : text;
}

function escapeInvalid(b: Uint8Array): string {
  let out = "";
  let start = 0; // start of the pending run of valid UTF-8
  const flush = (end: number): void => {
    if (end > start) out += escapeString(Buffer.from(b.buffer, b.byteOffset + start, end - start).toString("utf8"));
  };
  for (let i = 0; i < b.length; ) {
    const n = sequenceAt(b, i);
    if (n > 0) {
      i += n;
      continue;
    }
    flush(i);
    out += `\\x${hex(b[i]!, 2)}`;
    start = ++i;
  }
  flush(b.length);
  return out;
}

/** `s` with every control, separator, bidi control and backslash escaped (see above). */
export function printable(s: string | Uint8Array): string {
  if (typeof s !== "string") return escapeBytes(s);
  return SPECIAL.test(s) ? escapeString(s) : s;
}
