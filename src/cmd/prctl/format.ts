/**
 * prctl's two layouts (illumos prctl.c): the table, with values scaled as illumos
 * prints them (counts in K/M/G of 1000, bytes in KB/MB/GB of 1024), and -P's
 * parsable lines with raw numbers.
 */
import type { LiveRctl } from "../../platform/rctllive.js";

export const HEADER = "NAME    PRIVILEGE       VALUE    FLAG   ACTION                       RECIPIENT";

/** 2147483647 -> "2.15G", 65535 -> "65.5K", 100 -> "100": three significant digits, as illumos's %.3g-like scaling. */
export function scaleCount(n: number): string {
  return scale(n, 1000, ["", "K", "M", "G", "T", "P", "E"], "");
}

/** 67108864 -> "64.0MB", 2^64-1 -> "16.0EB", 512 -> "512B". */
export function scaleBytes(n: number): string {
  return scale(n, 1024, ["", "K", "M", "G", "T", "P", "E"], "B");
}

function scale(n: number, base: number, units: string[], suffix: string): string {
  let i = 0;
  let v = n;
  while (v >= base && i < units.length - 1) {
    v /= base;
    i++;
  }
  if (i === 0) return `${n}${suffix}`;
  const text = v >= 100 ? String(Math.round(v)) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
  return `${text}${units[i]}${suffix}`;
}

const pad = (s: string, n: number): string => s.padEnd(n);
const lpad = (s: string, n: number): string => s.padStart(n);

function valueLine(priv: string, value: string, flag: string, action: string, recipient: string): string {
  return `        ${pad(priv, 10)}${lpad(value, 11)}${lpad(flag, 8)}   ${pad(action, 28)}${lpad(recipient, 10)}`.trimEnd();
}

/** The table for one zone. */
export function formatTable(id: number, zone: string, rctls: readonly LiveRctl[]): string[] {
  const out = [`zone: ${id}: ${zone}`, HEADER];
  for (const r of rctls) {
    const fmt = (n: number): string => (r.bytes ? scaleBytes(n) : scaleCount(n));
    out.push(r.name);
    if (r.usage !== undefined) out.push(valueLine("usage", fmt(r.usage), "", "", "").trimEnd());
    for (const v of r.values) out.push(valueLine(v.priv, fmt(v.value), v.flag, v.action, "-"));
  }
  return out;
}

/** -P: `name priv value flag action recipient`, raw numbers. */
export function formatParsable(id: number, zone: string, rctls: readonly LiveRctl[]): string[] {
  const out = [`zone: ${id}: ${zone}`];
  for (const r of rctls) {
    if (r.usage !== undefined) out.push(`${r.name} usage ${r.usage}`);
    for (const v of r.values) out.push(`${r.name} ${v.priv} ${v.value >= 2 ** 64 - 1 ? "18446744073709551615" : String(v.value)} ${v.flag} ${v.action} -`);
  }
  return out;
}
