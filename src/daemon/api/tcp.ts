/**
 * zoneadmd's side of the API over TCP: at start, the listener zoneadmd.conf asks for
 * (tcpsettings.ts; none by default), and for `zoneadm web` (the daemon's "web"
 * operation, root's only) a listener on 127.0.0.1 — the configured one when it covers
 * 127.0.0.1, else one on a free port that lives as long as the daemon — and a
 * one-time login URL for it. Both serve the same API handler as the UNIX socket.
 * SIGHUP (reload) reads zoneadmd.conf again: a changed api-listen, certificate or client
 * CA closes the configured listener and opens the new one; new pins and origins apply
 * at once.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { writeFileAtomic } from "../../native/atomic.js";
import type { ZonePaths } from "../../document/store/paths.js";
import { SETTINGS_FILE } from "../../platform/reserve.js";
import type { LogFn } from "../log.js";
import { Authenticator } from "./tcpauth.js";
import { TcpListener, type ApiEntry } from "./tcplistener.js";
import { tcpSettings, type ListenAddress, type TcpSettings } from "./tcpsettings.js";
import { acceptConfiguredOrigins } from "./origin.js";
import { apiKeyPair } from "./tlscert.js";
import { TokenStore } from "./tokens.js";
import { WebLogins } from "./weblogin.js";

/** Where the daemon writes the address it listens on (for people and tests: the port may be chosen by the kernel). */
export function tcpAddressFile(paths: ZonePaths): string {
  return path.join(paths.runDir, "api-tcp");
}

const LOOPBACK = "127.0.0.1";

export class ApiTcp {
  private configured?: TcpListener;
  /** A promise: two `zoneadm web` at once share one listener. */
  private webOnly?: Promise<TcpListener>;
  private readonly auth: Authenticator;
  private settings: TcpSettings = { clientPins: new Map() };
  /** start() under way: the root socket already serves, so a `zoneadm web` may come meanwhile. */
  private starting?: Promise<void>;
  /** Reloads one after another: a second SIGHUP waits for the first's listener. */
  private reloading: Promise<void> = Promise.resolve();

  constructor(
    private readonly paths: ZonePaths,
    private readonly log: LogFn,
    private readonly api: ApiEntry,
  ) {
    this.auth = new Authenticator(new TokenStore(paths), new WebLogins(), log, true);
  }

  /** Open the configured listener, if any; a mistake in the settings is logged and leaves TCP off. */
  start(): Promise<void> {
    this.starting ??= this.openConfigured();
    return this.starting;
  }

  private async openConfigured(): Promise<void> {
    try {
      this.settings = tcpSettings(path.join(this.paths.configDir, SETTINGS_FILE));
      this.auth.pins = this.settings.clientPins;
      acceptConfiguredOrigins(this.settings.origins ?? []);
      if (!this.settings.listen) return;
      this.configured = await this.open(this.settings.listen);
      // Whole or absent for a reader; not durable: a host reboot makes it stale anyway.
      writeFileAtomic(tcpAddressFile(this.paths), `${this.configured.url}\n`, 0o644, false);
    } catch (e) {
      this.log(`API over TCP not opened: ${(e as Error).message}`);
    }
  }

  /** Read the settings again (SIGHUP); never throws: a mistake is logged and changes nothing. */
  reload(): Promise<void> {
    const next = this.reloading.then(() => this.reloadNow());
    this.reloading = next.catch(() => undefined);
    return next;
  }

  private async reloadNow(): Promise<void> {
    await this.start();
    let next: TcpSettings;
    try {
      next = tcpSettings(path.join(this.paths.configDir, SETTINGS_FILE));
    } catch (e) {
      this.log(`API over TCP: settings not read again, keeping the last ones: ${(e as Error).message}`);
      return;
    }
    const was = this.settings;
    const shape = (t: TcpSettings): string => JSON.stringify([t.listen, t.cert, t.key, t.clientCa, t.clientPins.size > 0]);
    // Pins are looked up at each handshake's end: a new set applies without a new listener.
    this.auth.pins = next.clientPins;
    // And origins at each upgrade.
    acceptConfiguredOrigins(next.origins ?? []);
    this.settings = next;
    if (shape(next) === shape(was) && (next.listen === undefined) === (this.configured === undefined)) return;
    if (this.configured) {
      fs.rmSync(tcpAddressFile(this.paths), { force: true });
      await this.configured.close();
      this.configured = undefined;
      this.log(`API over TCP closed on ${next.listen ? "a changed setting" : "api-listen off"}`);
    }
    if (!next.listen) return;
    try {
      this.configured = await this.open(next.listen);
      writeFileAtomic(tcpAddressFile(this.paths), `${this.configured.url}\n`, 0o644, false);
    } catch (e) {
      this.log(`API over TCP not opened: ${(e as Error).message}`);
    }
  }

  private async open(listen: ListenAddress): Promise<TcpListener> {
    const s = this.settings;
    const pair = await apiKeyPair(this.paths, s, listen);
    const clientCa = s.clientCa !== undefined ? fs.readFileSync(s.clientCa) : undefined;
    const l = await TcpListener.start({ listen, pair, clientCa, requestCert: clientCa !== undefined || s.clientPins.size > 0, auth: this.auth, api: this.api, log: this.log });
    this.log(`API over TCP serving ${l.url} (TLS only; certificate ${pair.source}, SHA-256 ${pair.fingerprint}${clientCa ? `; client certificates of ${s.clientCa}` : ""}${s.clientPins.size ? `; ${s.clientPins.size} pinned client certificates` : ""})`);
    return l;
  }

  /** `zoneadm web`: a one-time login URL on 127.0.0.1. */
  async web(): Promise<string> {
    await this.start();
    const c = this.configured;
    const covers = c !== undefined && [LOOPBACK, "0.0.0.0", "::"].includes(c.address.host);
    let port: number;
    if (covers) port = c.address.port;
    else {
      this.webOnly ??= this.open({ host: LOOPBACK, port: 0 }).catch((e: Error) => {
        this.webOnly = undefined;
        throw e;
      });
      port = (await this.webOnly).address.port;
    }
    return `https://${LOOPBACK}:${port}/?token=${this.auth.web.issue()}`;
  }

  async close(): Promise<void> {
    fs.rmSync(tcpAddressFile(this.paths), { force: true });
    await Promise.all([this.configured?.close(), this.webOnly?.then((l) => l.close(), () => undefined)]);
  }
}
