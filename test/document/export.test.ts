import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { parseZone } from "../../src/document/store/document.js";
import { applyEdit, ZoneEditor } from "../../src/document/editor.js";
import { exportZone } from "../../src/document/export.js";
import { Cursor } from "../../src/document/grammar.js";
import { lex } from "../../src/document/lexer.js";
import { blankZone, NATIVE_BRAND, type ZoneConfig } from "../../src/document/model.js";
import { RCTLS } from "../../src/document/rctls.js";
import { RESOURCES } from "../../src/document/resources.js";
import { Gen, randomZone } from "./zonegen.js";

function edit(text: string, name = "web"): ZoneConfig {
  const ed = new ZoneEditor(blankZone(name));
  for (const cmd of lex(text)) {
    const c = new Cursor(cmd);
    const verb = c.word("command");
    assert.ok(applyEdit(ed, verb, c), `not an editing command: ${verb}`);
  }
  assert.equal(ed.scope, null);
  return ed.zone;
}

function lines(text: string): string[] {
  assert.ok(text.endsWith("\n"), "export ends with a newline");
  return text.slice(0, -1).split("\n");
}

describe("exportZone: fixed order (zones-reference §2)", () => {
  test("a blank zone: create -b, autoboot and ip-type only", () => {
    assert.equal(exportZone(blankZone("z")), "create -b\nset autoboot=false\nset ip-type=shared\n");
  });

  test("every part of a zone, in illumos order, whatever order it was set in", () => {
    // Deliberately set in a scrambled order: export must not depend on it.
    const z = edit(`
      add service; set caller=web,app; set name=db; end
      add security-flags; set upper=all; set lower=none; set default=aslr; end
      add admin; set user=alice; set auths=login,manage; end
      add dedicated-cpu; set ncpus=1-2; set importance=5; end
      add dataset; set name=/srv/ds; end
      add attr; set name=comment; set type=string; set value="a b=c"; end
      set max-lwps=100
      add capped-cpu; set ncpus=.75; end
      add capped-memory; set physical=50M; set swap=1G; end
      add device; set match=/dev/null; end
      add net; set physical=eth0; set defrouter=10.0.0.1; set allowed-address=10.0.0.2/24; end
      add fs; add options ro; set type=lofs; set raw=/dev/sdb; set special=/srv; set dir=/mnt; add options "mode=755"; end
      set fs-allowed=ext4,xfs
      set nesting=true
      set hostid=1234abcd
      set ip-type=exclusive
      set scheduling-class=FSS
      set limitpriv=default,sys_time
      set pool=pool1
      set bootargs="-m verbose"
      set autoboot=true
      set brand=minimal
      set zonepath=/zones/web
      set cpu-shares=5
    `);
    assert.deepEqual(lines(exportZone(z)), [
      "create -b",
      "set zonepath=/zones/web",
      "set brand=minimal",
      "set autoboot=true",
      'set bootargs="-m verbose"',
      "set pool=pool1",
      "set limitpriv=default,sys_time",
      "set scheduling-class=FSS",
      "set ip-type=exclusive",
      "set hostid=1234abcd",
      "set fs-allowed=ext4,xfs",
      "set nesting=true",
      "add fs",
      "set dir=/mnt",
      "set special=/srv",
      "set raw=/dev/sdb",
      "set type=lofs",
      "add options ro",
      'add options "mode=755"',
      "end",
      "add net",
      "set allowed-address=10.0.0.2/24",
      "set physical=eth0",
      "set defrouter=10.0.0.1",
      "end",
      "add device",
      "set match=/dev/null",
      "end",
      "add capped-memory",
      "set physical=50M",
      "end",
      // rctls in the order they were created: the aliases, cpu-cap and swap are all rctls
      "add rctl",
      "set name=zone.max-lwps",
      "add value (priv=privileged,limit=100,action=deny)",
      "end",
      "add rctl",
      "set name=zone.cpu-cap",
      "add value (priv=privileged,limit=75,action=deny)",
      "end",
      "add rctl",
      "set name=zone.max-swap",
      "add value (priv=privileged,limit=1073741824,action=deny)",
      "end",
      "add rctl",
      "set name=zone.cpu-shares",
      "add value (priv=privileged,limit=5,action=none)",
      "end",
      "add attr",
      "set name=comment",
      "set type=string",
      'set value="a b=c"',
      "end",
      "add dataset",
      "set name=/srv/ds",
      "end",
      "add dedicated-cpu",
      "set ncpus=1-2",
      "set importance=5",
      "end",
      "add admin",
      "set user=alice",
      "set auths=login,manage",
      "end",
      "add security-flags",
      "set default=aslr",
      "set lower=none",
      "set upper=all",
      "end",
      "add service",
      "set name=db",
      "set caller=web,app",
      "end",
    ]);
  });

  test("the native brand is omitted, any other brand is written", () => {
    assert.equal(NATIVE_BRAND, "sparse");
    assert.ok(!exportZone(edit("set brand=sparse")).includes("brand"));
    assert.ok(lines(exportZone(edit("set brand=minimal"))).includes("set brand=minimal"));
  });

  test("autoboot and ip-type are always written, other empty globals never", () => {
    const text = exportZone(edit("set autoboot=false; set ip-type=shared"));
    assert.deepEqual(lines(text), ["create -b", "set autoboot=false", "set ip-type=shared"]);
  });

  test("capped-cpu itself is never exported; only its zone.cpu-cap rctl", () => {
    const text = exportZone(edit("add capped-cpu; set ncpus=1.5; end"));
    assert.ok(!text.includes("capped-cpu"), text);
    assert.ok(text.includes("set name=zone.cpu-cap\nadd value (priv=privileged,limit=150,action=deny)\n"), text);
  });

  test("capped-memory physical is written with the largest exact unit", () => {
    const phys = (p: string): string | undefined => lines(exportZone(edit(`add capped-memory; set physical=${p}; end`))).find((l) => l.startsWith("set physical="));
    assert.equal(phys("52428800"), "set physical=50M");
    assert.equal(phys("1536K"), "set physical=1536K");
    assert.equal(phys("2048M"), "set physical=2G");
    assert.equal(phys("1000"), "set physical=1000");
    assert.equal(phys("1T"), "set physical=1T");
  });

  test("capped-memory with only swap exports no capped-memory block", () => {
    const text = exportZone(edit("add capped-memory; set swap=512M; end"));
    assert.ok(!text.includes("capped-memory"), text);
    assert.ok(text.includes("add rctl\nset name=zone.max-swap\nadd value (priv=privileged,limit=536870912,action=deny)\nend\n"), text);
  });

  test("several rctl values are one add value each; signal actions are quoted", () => {
    const text = exportZone(
      edit("add rctl; set name=zone.max-processes; add value (priv=basic,limit=10,action=signal=SIGTERM); add value (priv=privileged,limit=20,action=deny); end"),
    );
    assert.ok(
      text.includes('set name=zone.max-processes\nadd value (priv=basic,limit=10,action="signal=SIGTERM")\nadd value (priv=privileged,limit=20,action=deny)\nend\n'),
      text,
    );
  });

  test("net with address, and empty resource properties omitted", () => {
    const text = exportZone(edit("add net; set physical=eth1; set address=192.168.0.5/24; end"));
    assert.ok(text.includes("add net\nset address=192.168.0.5/24\nset physical=eth1\nend\n"), text);
  });

  test("resource values with blanks, quotes and backslashes are quoted and escaped", () => {
    const text = exportZone(edit('add attr; set name=msg; set type=string; set value="say \\"hi\\" \\\\ bye"; end'));
    assert.ok(text.includes('set value="say \\"hi\\" \\\\ bye"\n'), text);
  });

  test("an option containing '=' is quoted as \"k=v\"", () => {
    const text = exportZone(edit('add fs; set dir=/t; set special=swap; set type=tmpfs; add options "size=10m"; add options noexec; end'));
    assert.ok(text.includes('add options "size=10m"\nadd options noexec\nend\n'), text);
  });

  test("security-flags with only some flags set writes only those", () => {
    const text = exportZone(edit("add security-flags; set default=aslr; end"));
    assert.ok(text.endsWith("add security-flags\nset default=aslr\nend\n"), text);
  });

  test(
    "a value holding DEL (which a quoted string accepts) survives export and parse",
    () => {
      const z = parseZone("web", 'create -b\nset bootargs="x\x7fy"\n', "in");
      assert.equal(z.bootargs, "x\x7fy");
      assert.deepEqual(parseZone("web", exportZone(z), "out"), z);
    },
  );
});

// ---------------------------------------------------------------------------------------
// Round-trip property test

const CASES = 600;
const BASE_SEED = Number(process.env.ZONES_TEST_SEED ?? 0x2f6b1a3);

describe("exportZone round trip (property test)", () => {
  test(`${CASES} random zones: parseZone(exportZone(z)) deep-equals z, and export is a fixed point`, () => {
    const seen = new Map<string, number>();
    const count = (k: string): void => void seen.set(k, (seen.get(k) ?? 0) + 1);
    const blank = blankZone("x");
    for (let i = 0; i < CASES; i++) {
      const seed = (BASE_SEED + i) >>> 0;
      const z = randomZone(new Gen(seed), `zone-${i}`);
      const where = `seed ${seed} (ZONES_TEST_SEED=${BASE_SEED}, case ${i})`;
      const text = exportZone(z);
      let back: ZoneConfig;
      try {
        back = parseZone(z.zonename, text, "gen");
      } catch (e) {
        assert.fail(`${where}: exported text does not parse: ${(e as Error).message}\n--- zone\n${JSON.stringify(z, null, 1)}\n--- text\n${text}`);
      }
      assert.deepStrictEqual(back, z, `${where}: round trip differs\n--- text\n${text}`);
      assert.equal(exportZone(back), text, `${where}: export -> parse -> export is not a fixed point`);

      // coverage bookkeeping
      for (const k of Object.keys(blank) as Array<keyof ZoneConfig>) {
        if (JSON.stringify(z[k]) !== JSON.stringify(blank[k]) && k !== "zonename") count(k);
      }
      for (const r of z.rctl) count(`rctl ${r.name}`);
      for (const spec of RESOURCES) if (spec.read(z).length > 0) count(`resource ${spec.type}`);
      if (/[ \t=,"\\[\]();#]/.test(z.bootargs)) count("nasty bootargs");
      if (z.attr.some((a) => a.type === "string" && /[ =,"\\[\]();#]/.test(a.value))) count("nasty attr value");
      if (z.fs.some((f) => f.type !== "lofs" && /[ =,"\\[\]();#]/.test(f.special))) count("nasty fs special");
      if (z.fs.some((f) => f.options.some((o) => /[=[\]();#]/.test(o)))) count("nasty fs option");
      if (z.rctl.some((r) => r.values.some((v) => v.action.startsWith("signal=")))) count("signal action");
      if (z.securityFlags && Object.values(z.securityFlags).includes("")) count("partial security-flags");
    }
    // The generator must really cover every global property, resource type and rctl.
    const required = [
      ...(Object.keys(blank) as string[]).filter((k) => k !== "zonename"),
      ...RCTLS.map((r) => `rctl ${r.name}`),
      ...RESOURCES.map((r) => `resource ${r.type}`),
      "nasty bootargs",
      "nasty attr value",
      "nasty fs special",
      "nasty fs option",
      "signal action",
      "partial security-flags",
    ];
    for (const k of required) assert.ok((seen.get(k) ?? 0) >= 5, `generator (base seed ${BASE_SEED}) rarely covers ${k}: ${seen.get(k) ?? 0} times`);
  });

  test("the generator is deterministic for a seed", () => {
    assert.deepStrictEqual(randomZone(new Gen(1234), "a"), randomZone(new Gen(1234), "a"));
    assert.notDeepStrictEqual(randomZone(new Gen(1234), "a"), randomZone(new Gen(1235), "a"));
  });

  test("parseZone refuses a changed export, so the round trip check has teeth", () => {
    const z = edit("set zonepath=/zones/web; set autoboot=true");
    const back = parseZone("web", exportZone(z).replace("autoboot=true", "autoboot=false"), "gen");
    assert.notDeepStrictEqual(back, z);
  });
});
