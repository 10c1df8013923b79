/** For the API-over-TCP tests: an HTTPS client that trusts one certificate, and a test CA made with openssl. */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as https from "node:https";
import * as net from "node:net";
import * as path from "node:path";
import * as tls from "node:tls";

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export interface Client {
  /** PEM the client trusts as the server's certificate (or CA). */
  ca: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

export function get(url: string, c: Client, headers: Record<string, string> = {}): Promise<Answer> {
  return request("GET", url, c, headers);
}

export function request(method: string, url: string, c: Client, headers: Record<string, string> = {}, body?: unknown): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const h = data === undefined ? headers : { ...headers, "content-type": "application/json", "content-length": String(Buffer.byteLength(data)) };
    const req = https.request(url, { method, ca: c.ca, cert: c.cert, key: c.key, headers: h, agent: false }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => (body += d));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on("error", reject);
    req.setTimeout(10_000, () => req.destroy(new Error(`no answer from ${url}`)));
    req.end(data);
  });
}

/** What a plain-HTTP client gets from a TLS port: an error, or an HTTP status line if one came. */
export function plainHttp(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(port, host, () => s.write(`GET /1.0 HTTP/1.1\r\nHost: ${host}\r\n\r\n`));
    let got = "";
    s.on("data", (d: Buffer) => (got += d.toString("latin1")));
    s.on("error", (e: NodeJS.ErrnoException) => resolve(`error ${e.code ?? e.message}`));
    s.on("close", () => resolve(got.startsWith("HTTP/") ? got.split("\r\n")[0]! : `closed after ${got.length} bytes`));
    s.setTimeout(10_000, () => s.destroy());
  });
}

/** A CA and client certificates it signs, in `dir`. */
export class TestCa {
  readonly caCert: string;
  private readonly caKey: string;

  constructor(readonly dir: string) {
    this.caKey = path.join(dir, "ca.key");
    this.caCert = path.join(dir, "ca.pem");
    execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj", "/CN=test ca", "-keyout", this.caKey, "-out", this.caCert], { stdio: "ignore" });
  }

  /** A client certificate for `cn`, signed by this CA (or self-signed: an untrusted one). */
  client(cn: string, signed = true): { cert: Buffer; key: Buffer } {
    const base = path.join(this.dir, `client-${cn}-${signed ? "ca" : "self"}`);
    if (signed) {
      execFileSync("openssl", ["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-subj", `/CN=${cn}`, "-keyout", `${base}.key`, "-out", `${base}.csr`], { stdio: "ignore" });
      execFileSync("openssl", ["x509", "-req", "-in", `${base}.csr`, "-CA", this.caCert, "-CAkey", this.caKey, "-CAcreateserial", "-days", "2", "-out", `${base}.pem`], { stdio: "ignore" });
    } else {
      execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj", `/CN=${cn}`, "-keyout", `${base}.key`, "-out", `${base}.pem`], { stdio: "ignore" });
    }
    return { cert: fs.readFileSync(`${base}.pem`), key: fs.readFileSync(`${base}.key`) };
  }
}

/** The status line a WebSocket upgrade request over TLS gets. */
export function upgradeStatus(host: string, port: number, c: Client, path: string, headers: Record<string, string> = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host, port, ca: c.ca, cert: c.cert, key: c.key }, () => {
      const extra = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join("");
      s.write(`GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n${extra}\r\n`);
    });
    let got = "";
    s.on("data", (d: Buffer) => {
      got += d.toString("latin1");
      if (got.includes("\r\n")) {
        resolve(got.split("\r\n")[0]!);
        s.destroy();
      }
    });
    s.on("error", reject);
    s.on("close", () => resolve(got.split("\r\n")[0]!));
    s.setTimeout(10_000, () => s.destroy());
  });
}
