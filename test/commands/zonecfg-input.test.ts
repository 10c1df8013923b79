/**
 * zonecfg's command streams whatever standard input is: a pipe that arrives slowly, a
 * non-blocking pipe, a stream larger than a pipe's buffer, a device that never ends,
 * and a token too long to be a value. Each ends in one line, or works.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import * as path from "node:path";
import { after, describe, test } from "node:test";
import { BIN, collect, TestRoot, type Result } from "../support/helpers.js";

const root = new TestRoot("cfginput");
after(() => root.remove());
const zonecfg = path.join(BIN, "zonecfg");
const zp = (name: string): string => path.join(root.dir, "zones", name);

/** zonecfg fed by a shell pipeline, as an administrator's script would. */
function piped(producer: string, args: string[]): Result {
  const r = spawnSync("bash", ["-c", `${producer} | "$0" "$@"`, zonecfg, ...args], { env: root.env, encoding: "utf8", timeout: 30_000 });
  if (r.error) throw r.error;
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** zonecfg on a pipe from this (Node) process, which leaves its end non-blocking; written in parts. */
function fedInParts(args: string[], parts: string[]): Promise<Result> {
  const child = spawn(zonecfg, args, { env: root.env, stdio: ["pipe", "pipe", "pipe"] });
  const done = collect(child);
  const feed = (i: number): void => {
    if (i === parts.length) return void child.stdin.end();
    child.stdin.write(parts[i]!);
    setTimeout(() => feed(i + 1), 300);
  };
  feed(0);
  return done;
}

const info = (zone: string, prop: string): string => root.ok("zonecfg", ["-z", zone, "info", prop]);

describe("zonecfg command streams", () => {
  test("standard input that arrives slowly is read to its end", () => {
    const r = piped(`{ echo create; sleep 1; echo "set zonepath=${zp("slow")}"; }`, ["-z", "slow"]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(info("slow", "zonepath"), `zonepath: ${zp("slow")}\n`);
  });

  test("a non-blocking pipe written in parts, with -f - and without", async () => {
    for (const args of [["-z", "parts"], ["-z", "parts2", "-f", "-"]]) {
      const zone = args[1]!;
      const r = await fedInParts(args, ["create\n", `set zonepath=${zp(zone)}\n`, "set bootargs=-s\n"]);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(info(zone, "bootargs"), "bootargs: -s\n");
    }
  });

  test("a stream of several MiB (far past a pipe's 64 KiB) is read whole", () => {
    // 200,000 comment lines, then the one command that matters at the very end.
    const r = piped(`{ echo create; echo "set zonepath=${zp("big")}"; yes '# padding padding padding' | head -n 200000; echo "set bootargs=-v"; }`, ["-z", "big"]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(info("big", "bootargs"), "bootargs: -v\n");
  });

  test("a stream over 16 MiB is refused in one line and commits nothing", () => {
    const r = piped(`{ echo create; echo "set zonepath=${zp("huge")}"; head -c 17000000 /dev/zero | tr '\\0' '\\n'; }`, ["-z", "huge"]);
    assert.equal(r.status, 1);
    assert.equal(r.stderr, "zonecfg: zone 'huge': standard input: command stream is longer than 16 MiB; nothing was read\n");
    assert.equal(root.run("zonecfg", ["-z", "huge", "info"]).status, 1, "nothing committed");
  });

  test("-f /dev/zero fails with one line instead of growing", () => {
    const r = root.run("zonecfg", ["-z", "zero", "-f", "/dev/zero"]);
    assert.equal(r.status, 1);
    assert.equal(r.stderr, "zonecfg: zone 'zero': /dev/zero: command stream is longer than 16 MiB; nothing was read\n");
  });

  test("a token over 64 KiB, bare or quoted, is refused with its line; one of 64 KiB passes", () => {
    root.ok("zonecfg", ["-z", "tok", `create; set zonepath=${zp("tok")}`]);
    const long = "x".repeat(64 * 1024);
    for (const value of [long + "x", `"${long}x"`]) {
      const r = root.run("zonecfg", ["-z", "tok", "-f", "-"], `set bootargs=-s\n\nset bootargs=${value}\n`);
      assert.equal(r.status, 1);
      assert.equal(r.stderr, "zonecfg: zone 'tok': standard input line 3: token longer than 65536 characters\n");
    }
    assert.doesNotMatch(root.ok("zonecfg", ["-z", "tok", "info"]), /bootargs: -s/, "nothing committed");
    // A token of exactly 64 KiB passes the lexer and meets the property's own bound.
    const r = root.run("zonecfg", ["-z", "tok", "-f", "-"], `set bootargs="${long}"\n`);
    assert.equal(r.stderr, "zonecfg: zone 'tok': standard input line 1: bootargs is longer than 1024 characters\n");
  });
});
