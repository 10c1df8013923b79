/** The nf_tables messages zone networking sends (netlink.ts sends them): a port's set elements, a root's table. */
import { attr, ipBytes, macBytes, nest, NLM_F_CREATE, strAttr, type Message } from "./netlink.js";

export const NFNL_SUBSYS_NFTABLES = 10;
const NFT_MSG_DELTABLE = 2;
const NFTA_TABLE_NAME = 1;
const NFT_MSG_NEWSETELEM = 12;
const NFT_MSG_DELSETELEM = 14;
const NFPROTO_BRIDGE = 7;
const NFPROTO_INET = 1;
const NFTA_SET_ELEM_LIST_TABLE = 1;
const NFTA_SET_ELEM_LIST_SET = 2;
const NFTA_SET_ELEM_LIST_ELEMENTS = 3;
const NFTA_LIST_ELEM = 1;
const NFTA_SET_ELEM_KEY = 1;
const NFTA_DATA_VALUE = 1;

/**
 * Keys of set elements, laid out as nft lays out concatenations: each part in whole
 * 32-bit registers, zero-padded (an ifname takes 16 bytes, a MAC 8, IPv4 4, IPv6 16).
 */
export const key = {
  ifname(name: string): Buffer {
    const b = Buffer.alloc(16);
    b.write(name, "latin1");
    return b;
  },
  mac(mac: string): Buffer {
    return Buffer.concat([macBytes(mac), Buffer.alloc(2)]);
  },
  ip(addr: string): Buffer {
    return ipBytes(addr);
  },
};

/** Add (`add`) or remove elements with `keys` to the set `set` of bridge table `table`. */
export function setElements(op: "add" | "delete", table: string, set: string, keys: readonly Buffer[]): Message {
  const nfgen = Buffer.from([NFPROTO_BRIDGE, 0, 0, 0]);
  const elems = keys.map((k) => nest(NFTA_LIST_ELEM, nest(NFTA_SET_ELEM_KEY, attr(NFTA_DATA_VALUE, k))));
  return {
    type: (NFNL_SUBSYS_NFTABLES << 8) | (op === "add" ? NFT_MSG_NEWSETELEM : NFT_MSG_DELSETELEM),
    flags: op === "add" ? NLM_F_CREATE : 0,
    body: Buffer.concat([nfgen, strAttr(NFTA_SET_ELEM_LIST_TABLE, table), strAttr(NFTA_SET_ELEM_LIST_SET, set), nest(NFTA_SET_ELEM_LIST_ELEMENTS, ...elems)]),
    what: `${op} elements of nft set ${table} ${set}`,
  };
}

/** Delete the bridge-family (or, `inet`, the inet-family) table `table` with everything in it. */
export function delTable(table: string, inet = false): Message {
  return {
    type: (NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_DELTABLE,
    flags: 0,
    body: Buffer.concat([Buffer.from([inet ? NFPROTO_INET : NFPROTO_BRIDGE, 0, 0, 0]), strAttr(NFTA_TABLE_NAME, table)]),
    what: `delete nft table ${inet ? "inet" : "bridge"} ${table}`,
  };
}
