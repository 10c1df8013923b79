/**
 * The API's TLS certificate: the administrator's (api-cert=, api-key=) or, without one,
 * a self-signed pair that zoneadmd makes with Debian's openssl at its first start and
 * keeps in `<configDir>/api/` (a 0700 directory; the key 0600). Its subject alternative
 * names cover the listen address, 127.0.0.1, ::1, localhost and the host's name; a pair
 * that does not cover a new listen address is made again.
 */
import { execFile } from "node:child_process";
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { promisify } from "node:util";
import { ZoneError, q } from "../../native/errors.js";
import type { ZonePaths } from "../../document/store/paths.js";
import type { ListenAddress, TcpSettings } from "./tcpsettings.js";

const run = promisify(execFile);

export interface KeyPair {
  cert: Buffer;
  key: Buffer;
  /** Where the certificate came from, for the log. */
  source: string;
  /** SHA-256 fingerprint, as openssl prints it. */
  fingerprint: string;
}

/** `<configDir>/api`: the self-signed pair and the token file (tokens.ts). */
export function apiStateDir(paths: ZonePaths): string {
  return path.join(paths.configDir, "api");
}

/** Make the state directory root's alone, whatever an older one had. */
export function ensureStateDir(paths: ZonePaths): string {
  const dir = apiStateDir(paths);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const st = fs.lstatSync(dir);
  if (!st.isDirectory()) throw new ZoneError(`${dir} is not a directory; refusing it`);
  if (st.uid !== process.getuid!()) throw new ZoneError(`${dir} is not owned by uid ${process.getuid!()}; refusing it`);
  fs.chmodSync(dir, 0o700);
  return dir;
}

function readPem(file: string, what: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (e) {
    throw new ZoneError(`cannot read the API's ${what} ${q(file)}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/** The names a self-signed certificate is made for. */
function altNames(listen: ListenAddress): string[] {
  const ips = new Set(["127.0.0.1", "::1"]);
  if (listen.host !== "0.0.0.0" && listen.host !== "::") ips.add(listen.host);
  const dns = new Set(["localhost", os.hostname()].filter((h) => /^[A-Za-z0-9.-]+$/.test(h)));
  return [...[...ips].map((i) => `IP:${i}`), ...[...dns].map((d) => `DNS:${d}`)];
}

/** Whether `cert` names every address of `want` (X509Certificate writes IPv6 in full: compare parsed). */
function covers(cert: Buffer, want: string[]): boolean {
  let san: string;
  try {
    san = new crypto.X509Certificate(cert).subjectAltName ?? "";
  } catch {
    return false;
  }
  const have = new Set(san.split(", ").map((n) => n.replace(/^IP Address:/, "IP:").replace(/^DNS:/, "DNS:")));
  const norm = (n: string): string => (n.startsWith("IP:") && n.includes(":", 3) ? `IP:${expand6(n.slice(3))}` : n);
  const haveNorm = new Set([...have].map(norm));
  return want.every((w) => haveNorm.has(norm(w)));
}

/** An IPv6 address with every group written out, as X509Certificate shows them. */
function expand6(a: string): string {
  const [head, tail] = a.includes("::") ? a.split("::") : [a, undefined];
  const h = head ? head.split(":") : [];
  const t = tail ? tail.split(":") : [];
  const fill = tail === undefined ? [] : Array<string>(8 - h.length - t.length).fill("0");
  return [...h, ...fill, ...t].map((g) => g.toUpperCase().replace(/^0+(?=.)/, "")).join(":");
}

function fingerprintOf(cert: Buffer): string {
  try {
    return new crypto.X509Certificate(cert).fingerprint256;
  } catch (e) {
    throw new ZoneError(`the API's certificate cannot be parsed: ${(e as Error).message}`);
  }
}

/** The pair to serve: the administrator's, or the self-signed one (made when missing or stale). */
export async function apiKeyPair(paths: ZonePaths, s: Pick<TcpSettings, "cert" | "key">, listen: ListenAddress): Promise<KeyPair> {
  if (s.cert !== undefined && s.key !== undefined) {
    const cert = readPem(s.cert, "certificate");
    return { cert, key: readPem(s.key, "key"), source: s.cert, fingerprint: fingerprintOf(cert) };
  }
  const dir = ensureStateDir(paths);
  const certFile = path.join(dir, "cert.pem");
  const keyFile = path.join(dir, "key.pem");
  const want = altNames(listen);
  if (fs.existsSync(certFile) && fs.existsSync(keyFile)) {
    const cert = fs.readFileSync(certFile);
    if (covers(cert, want)) return { cert, key: fs.readFileSync(keyFile), source: certFile, fingerprint: fingerprintOf(cert) };
  }
  await makeSelfSigned(dir, certFile, keyFile, want);
  const cert = fs.readFileSync(certFile);
  return { cert, key: fs.readFileSync(keyFile), source: `${certFile} (self-signed, made now)`, fingerprint: fingerprintOf(cert) };
}

/** openssl req -x509 into temporaries beside the targets, key 0600 before it is renamed into place. */
async function makeSelfSigned(dir: string, certFile: string, keyFile: string, names: string[]): Promise<void> {
  // Two makers at once (a second root's daemon never shares this directory, but be safe) never share a temporary.
  const tag = `${process.pid}-${crypto.randomBytes(4).toString("hex")}`;
  const tmpKey = path.join(dir, `.key.pem.tmp-${tag}`);
  const tmpCert = path.join(dir, `.cert.pem.tmp-${tag}`);
  // The key is created 0600 here; openssl then writes into it (no moment it is readable by others).
  fs.writeFileSync(tmpKey, "", { mode: 0o600 });
  try {
    await run(
      "openssl",
      ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "3650", "-subj", "/CN=zoneadmd", "-addext", `subjectAltName=${names.join(",")}`, "-keyout", tmpKey, "-out", tmpCert],
      { timeout: 30_000 },
    );
    fs.chmodSync(tmpKey, 0o600);
    fs.chmodSync(tmpCert, 0o644);
    fs.renameSync(tmpKey, keyFile);
    fs.renameSync(tmpCert, certFile);
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new ZoneError(`cannot make the API's self-signed certificate with openssl: ${(err.stderr ?? err.message).trim().split("\n")[0]}`);
  } finally {
    fs.rmSync(tmpKey, { force: true });
    fs.rmSync(tmpCert, { force: true });
  }
}
