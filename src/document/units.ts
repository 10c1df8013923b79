/** Byte quantities with the K/M/G/T suffixes zonecfg accepts (powers of 1024). */
import { ZoneError, q } from "../native/errors.js";

const SCALE: Record<string, number> = { "": 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 };

/** "512M" -> 536870912. Integers only; the result must be a safe integer. */
export function parseBytes(what: string, text: string): number {
  const m = /^([0-9]+)([KMGT]?)B?$/i.exec(text);
  if (!m) throw new ZoneError(`${what} must be a number of bytes with an optional K, M, G or T suffix: ${q(text)}`);
  const n = Number(m[1]) * SCALE[m[2]!.toUpperCase()]!;
  if (!Number.isSafeInteger(n)) throw new ZoneError(`${what} is too large: ${q(text)}`);
  return n;
}

/** 52428800 -> "50M": the largest unit that divides the value exactly (illumos bytes_to_units). */
export function formatBytes(n: number): string {
  for (const unit of ["T", "G", "M", "K"]) {
    const s = SCALE[unit]!;
    if (n >= s && n % s === 0) return `${n / s}${unit}`;
  }
  return String(n);
}

/** A non-negative safe integer written in decimal. */
export function parseCount(what: string, text: string): number {
  if (!/^[0-9]+$/.test(text)) throw new ZoneError(`${what} must be a non-negative integer: ${q(text)}`);
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw new ZoneError(`${what} is too large: ${q(text)}`);
  return n;
}
