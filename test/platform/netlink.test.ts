/**
 * The byte layouts netlink.ts builds by hand: addresses, attributes, set keys. The
 * requests themselves are exercised against the kernel by the network suites.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { attr, ipBytes, nest, parseAttrs, strAttr } from "../../src/platform/network/netlink.js";
import { key } from "../../src/platform/network/nftables.js";
import { linkLocalOf } from "../../src/platform/network/plan.js";

test("addresses in network byte order, whatever their spelling", () => {
  assert.equal(ipBytes("10.213.5.2").toString("hex"), "0ad50502");
  assert.equal(ipBytes("fd00:213:5::1").toString("hex"), "fd000213000500000000000000000001");
  assert.equal(ipBytes("::").toString("hex"), "0".repeat(32));
  assert.equal(ipBytes("fe80::1:2").toString("hex"), "fe800000000000000000000000010002");
  assert.equal(ipBytes("::ffff:10.0.0.1").toString("hex"), "00000000000000000000ffff0a000001");
});

test("attributes are padded to 4 bytes and nest with the nested flag", () => {
  const a = strAttr(3, "net0");
  assert.equal(a.toString("hex"), "090003006e65743000000000");
  const n = nest(18, a);
  assert.equal(n.readUInt16LE(0), 4 + a.length);
  assert.equal(n.readUInt16LE(2), 18 | 0x8000);
  const parsed = parseAttrs(Buffer.concat([attr(1, Buffer.from([1, 2, 3])), n]), 0);
  assert.deepEqual([...parsed.keys()], [1, 18]);
  assert.equal(parsed.get(1)!.toString("hex"), "010203");
});

test("set keys are laid out in whole 32-bit registers, as nft lays out concatenations", () => {
  assert.equal(key.ifname("zv12").length, 16);
  assert.equal(key.ifname("zv12").toString("latin1").replace(/\0+$/, ""), "zv12");
  assert.equal(key.mac("02:ab:00:00:00:01").toString("hex"), "02ab000000010000");
  assert.equal(key.ip("10.0.0.1").length, 4);
});

test("the link-local address the kernel derives from a MAC (EUI-64)", () => {
  assert.equal(linkLocalOf("02:ab:72:0a:67:6a"), "fe80::ab:72ff:fe0a:676a");
  assert.equal(linkLocalOf("00:11:22:33:44:55"), "fe80::211:22ff:fe33:4455");
});
