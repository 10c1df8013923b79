/**
 * The web console in a real browser: Debian's chromium, headless, driven by
 * playwright-core (no browser download), on the dashboard a real zoneadmd serves at the
 * one-time URL `zoneadm web` prints (TLS on 127.0.0.1, the login traded for a session
 * cookie), with real minimal zones. The list shows a booted zone running; boot and halt
 * clicked on the page change the zone's state as `zoneadm list -p` sees it; `zonename`
 * typed into the login shell's and the console's terminal (xterm.js) answers the
 * zone's name. Also the configuration editor, clone and delete, the keyboard, a phone.
 *
 * ZONES_WEB_SCREENSHOT=path also saves the dashboard's list (docs/dashboard.png).
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { chromium, type Browser, type Page } from "playwright-core";
import { until } from "../support/helpers.js";
import { ZoneTestRoot } from "../support/zones.js";

const CHROMIUM = "/usr/bin/chromium";
const root = new ZoneTestRoot("web");
let browser: Browser | undefined;
let page: Page;
let url: string;

after(async () => {
  try {
    await browser?.close();
  } finally {
    root.remove();
  }
});

/** A zone's state as `zoneadm list -cp` says it. */
function listed(name: string): string {
  const line = root.ok("zoneadm", ["list", "-cp"]).split("\n").find((l) => l.split(":")[1] === name);
  return line?.split(":")[2] ?? "absent";
}

/** The rows of the xterm.js terminal on the page, as text. */
function terminalRows(p: Page): Promise<string[]> {
  return p.$$eval(".xterm-rows > div", (ds) => ds.map((d) => (d.textContent ?? "").trim()));
}

describe("web console in chromium", { concurrency: false }, () => {
  before(async () => {
    assert.ok(fs.existsSync(CHROMIUM), `no ${CHROMIUM}: scripts/install-packages.sh installs chromium`);
    for (const z of ["alpha", "beta"]) {
      root.ok("zonecfg", ["-z", z, `create; set zonepath=${path.join(root.dir, "zones", z)}; set brand=minimal`]);
      root.ok("zoneadm", ["-z", z, "install"]);
    }
    root.ok("zoneadm", ["-z", "alpha", "boot"]);
    url = root.ok("zoneadm", ["web"]).trim();
    assert.match(url, /^https:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]+$/);
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true });
    // The daemon's certificate is its own, self-signed at first start.
    const ctx = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 800 } });
    page = await ctx.newPage();
    page.setDefaultTimeout(15_000);
  });

  test("the one-time URL opens the dashboard; the list shows the booted zone running and the other installed", async () => {
    await page.goto(url);
    // The secret is traded for a cookie and leaves the address bar.
    assert.doesNotMatch(page.url(), /token=/);
    await page.waitForSelector('tr[data-zone="alpha"] [data-state="running"]');
    await page.waitForSelector('tr[data-zone="beta"] [data-state="installed"]');
    await page.waitForSelector("#live.up");
    const shot = process.env.ZONES_WEB_SCREENSHOT;
    if (shot) await page.screenshot({ path: shot });
  });

  test("boot and halt clicked on the zone page change the zone's state as zoneadm list sees it", async () => {
    await page.click('a[data-zone-link="beta"]');
    await page.waitForSelector('#zone-state[data-state="installed"]');
    // From the keyboard: a real button, focused and pressed.
    await page.focus('[data-action="boot"]');
    await page.keyboard.press("Enter");
    await until("zoneadm list -p to say beta is running", () => listed("beta") === "running", 20_000);
    // The page learns it from the events stream (or its own answer), not from a reload.
    await page.waitForSelector('#zone-state[data-state="running"]');
    // Halt asks first; Cancel (and Escape) leave the zone alone.
    await page.click('[data-action="halt"]');
    await page.waitForSelector("dialog#confirm[open]");
    await page.click("#confirm-cancel");
    await page.waitForSelector("dialog#confirm", { state: "hidden" });
    await page.click('[data-action="halt"]');
    await page.waitForSelector("dialog#confirm[open]");
    await page.keyboard.press("Escape");
    await page.waitForSelector("dialog#confirm", { state: "hidden" });
    assert.equal(listed("beta"), "running", "Cancel or Escape halted the zone");
    await page.click('[data-action="halt"]');
    await page.click("#confirm-ok");
    await until("zoneadm list -p to say beta is installed", () => listed("beta") === "installed", 20_000);
    await page.waitForSelector('#zone-state[data-state="installed"]');
  });

  test("the configuration edited on the page is committed; a bad value shows zonecfg's own message and changes nothing", async () => {
    await page.waitForFunction(() => (document.querySelector("#config") as HTMLTextAreaElement | null)?.value.startsWith("create"));
    const text = await page.inputValue("#config");
    assert.match(text, /^set autoboot=false$/m);
    await page.fill("#config", text.replace("set autoboot=false", "set autoboot=true"));
    await page.click("text=Save configuration");
    await page.waitForSelector('#verify:text-is("Saved.")');
    assert.match(root.ok("zonecfg", ["-z", "beta", "export"]), /^set autoboot=true$/m);
    await page.fill("#config", `${await page.inputValue("#config")}add capped-memory\nset physical=1x\nend\n`);
    await page.click("text=Save configuration");
    await page.waitForSelector("#verify.error");
    assert.match((await page.textContent("#verify")) ?? "", /capped-memory physical .*"1x"/);
    assert.doesNotMatch(root.ok("zonecfg", ["-z", "beta", "export"]), /capped-memory/);
  });

  test("clone (its name asked in the page's dialog) makes a new installed zone from the page; delete (confirmed) uninstalls and removes it", async () => {
    // The page's own dialog, not the browser's prompt: Escape leaves everything as it was.
    await page.click('[data-action="clone"]');
    await page.waitForSelector("dialog#ask[open]");
    await page.keyboard.press("Escape");
    await page.waitForSelector("dialog#ask[open]", { state: "detached" });
    assert.equal(listed("gamma"), "absent", "a cancelled clone made a zone");
    await page.click('[data-action="clone"]');
    await page.waitForSelector("dialog#ask[open] #ask-input:focus");
    await page.keyboard.type("gamma\n");
    await until("zoneadm list -p to say gamma is installed", () => listed("gamma") === "installed", 30_000);
    await page.waitForSelector('section.zone[data-zone="gamma"] #zone-state[data-state="installed"]');
    assert.match(root.ok("zonecfg", ["-z", "gamma", "export"]), new RegExp(`^set zonepath=${path.join(root.dir, "zones", "gamma")}$`, "m"));
    await page.click('[data-action="delete"]');
    await page.waitForSelector("dialog#confirm[open]");
    await page.click("#confirm-ok");
    await until("zoneadm list -cp to lose gamma", () => listed("gamma") === "absent", 30_000);
    await page.waitForSelector('tr[data-zone="alpha"]');
    assert.equal(await page.$('tr[data-zone="gamma"]'), null, "the list still shows gamma");
  });

  test("the list is filtered and sorted from the keyboard, follows the events stream, and fits a phone's width", async () => {
    await page.goto(new URL("/#/", url).href);
    await page.waitForSelector('tr[data-zone="alpha"]');
    await page.focus("#filter");
    await page.keyboard.type("bet");
    assert.deepEqual(await page.$$eval("tr[data-zone]", (rs) => rs.map((r) => r.getAttribute("data-zone"))), ["beta"]);
    await page.fill("#filter", "");
    await page.focus('button[data-sort="name"]');
    // A live update redraws the list, header and all: the keyboard's focus stays where it was.
    await page.evaluate(() => ((window as unknown as { focusedBefore: Element | null }).focusedBefore = document.activeElement));
    root.ok("zonecfg", ["-z", "beta", "set autoboot=false"]);
    await page.waitForFunction(() => !document.contains((window as unknown as { focusedBefore: Element }).focusedBefore), null, { timeout: 5_000 });
    assert.equal(await page.evaluate(() => document.activeElement?.getAttribute("data-sort")), "name", "a redraw took the focus off the sort button");
    await page.keyboard.press("Enter");
    assert.deepEqual(await page.$$eval("tr[data-zone]", (rs) => rs.map((r) => r.getAttribute("data-zone"))), ["beta", "alpha"]);
    assert.equal(await page.getAttribute('th:has(button[data-sort="name"])', "aria-sort"), "descending");
    // A change made elsewhere (here zoneadm) reaches the list through the events
    // stream: well before the page's own 15 s poll.
    root.ok("zoneadm", ["-z", "beta", "ready"]);
    await page.waitForSelector('tr[data-zone="beta"] [data-state="ready"]', { timeout: 5_000 });
    root.ok("zoneadm", ["-z", "beta", "halt"]);
    await page.waitForSelector('tr[data-zone="beta"] [data-state="installed"]', { timeout: 5_000 });
    await page.setViewportSize({ width: 390, height: 844 });
    assert.ok((await page.evaluate(() => document.documentElement.scrollWidth)) <= 390, "the list is wider than a phone");
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  test("zonename typed into the login shell's and the console's terminal shows the zone's name", async () => {
    await page.goto(new URL("/#/zone/alpha", url).href);
    await page.waitForSelector('#zone-state[data-state="running"]');
    for (const kind of ["login", "console"]) {
      await page.click(`[data-term="${kind}"]`);
      await page.waitForSelector(`.term-state:text-is("${kind}: connected")`);
      await page.waitForSelector(".xterm-helper-textarea:focus");
      await page.keyboard.type("zonename\n");
      await page
        .waitForFunction(() => [...document.querySelectorAll(".xterm-rows > div")].some((d) => d.textContent?.trim() === "alpha"), null, { timeout: 10_000 })
        .catch(async () => assert.fail(`${kind}: no line "alpha" in the terminal: ${JSON.stringify((await terminalRows(page)).filter(Boolean))}`));
      // The command echoed, then its answer on a line of its own.
      const rows = await terminalRows(page);
      assert.ok(rows.some((r) => r.endsWith("zonename")), `${kind}: ${JSON.stringify(rows.filter(Boolean))}`);
    }
  });
});
