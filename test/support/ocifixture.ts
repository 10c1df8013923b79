/**
 * Crafted OCI material for tests: tar archives entry by entry (ustar, GNU long names),
 * and image layouts written blob by blob, so a test can make exactly the malformed
 * image it means (a bad digest, a layer with "..", a device node) with every other
 * digest right.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";

export interface Entry {
  name: string;
  type?: "0" | "1" | "2" | "3" | "5" | "6";
  data?: string | Buffer;
  mode?: number;
  uid?: number;
  gid?: number;
  linkname?: string;
}

function header(name: string, type: string, size: number, mode: number, uid: number, gid: number, linkname: string): Buffer {
  const h = Buffer.alloc(512);
  const put = (s: string, off: number, len: number): void => void h.write(s.slice(0, len), off, "utf8");
  const oct = (n: number, off: number, len: number): void => put(n.toString(8).padStart(len - 1, "0") + "\0", off, len);
  put(name, 0, 100);
  oct(mode, 100, 8);
  oct(uid, 108, 8);
  oct(gid, 116, 8);
  oct(size, 124, 12);
  oct(1_600_000_000, 136, 12);
  h.fill(0x20, 148, 156);
  put(type, 156, 1);
  put(linkname, 157, 100);
  put("ustar\0", 257, 6);
  put("00", 263, 2);
  let sum = 0;
  for (const b of h) sum += b;
  put(sum.toString(8).padStart(6, "0") + "\0 ", 148, 8);
  return h;
}

const pad = (n: number): Buffer => Buffer.alloc((512 - (n % 512)) % 512);

/** A tar of `entries`; names over 100 bytes get a GNU long-name entry. */
export function tar(entries: Entry[]): Buffer {
  const out: Buffer[] = [];
  for (const e of entries) {
    const type = e.type ?? (e.name.endsWith("/") ? "5" : "0");
    const data = Buffer.from(e.data ?? "");
    if (Buffer.byteLength(e.name) > 100) {
      const n = Buffer.from(e.name + "\0");
      out.push(header("././@LongLink", "L", n.length, 0, 0, 0, ""), n, pad(n.length));
    }
    out.push(header(e.name, type, type === "0" ? data.length : 0, e.mode ?? (type === "5" ? 0o755 : 0o644), e.uid ?? 0, e.gid ?? 0, e.linkname ?? ""));
    if (type === "0") out.push(data, pad(data.length));
  }
  out.push(Buffer.alloc(1024));
  return Buffer.concat(out);
}

const sha = (b: Buffer): string => "sha256:" + createHash("sha256").update(b).digest("hex");

export interface LayoutOptions {
  layers: Buffer[];
  layerType?: string;
  config?: Record<string, unknown>;
  tag?: string;
  /** Change the manifest's bytes before they are stored (its digest follows them). */
  manifestBytes?: (m: Buffer) => Buffer<ArrayBufferLike>;
  /** Wrap the manifest in an image index listing it for these linux architectures (skopeo copy --all). */
  architectures?: string[];
}

/** Write an image layout at `dir`: blobs, manifest, index; digests right unless a test spoils them after. */
export function writeLayout(dir: string, o: LayoutOptions): { manifest: string; layers: string[]; config: string } {
  fs.mkdirSync(path.join(dir, "blobs", "sha256"), { recursive: true });
  const put = (b: Buffer): string => {
    const d = sha(b);
    fs.writeFileSync(path.join(dir, "blobs", "sha256", d.slice(7)), b);
    return d;
  };
  const layerType = o.layerType ?? "application/vnd.oci.image.layer.v1.tar";
  const layers = o.layers.map((l) => ({ mediaType: layerType, digest: put(l), size: l.length }));
  const cfg = Buffer.from(JSON.stringify({ architecture: "amd64", os: "linux", config: o.config ?? { Cmd: ["/bin/sh"] }, rootfs: { type: "layers", diff_ids: o.layers.map(sha) } }));
  const config = { mediaType: "application/vnd.oci.image.config.v1+json", digest: put(cfg), size: cfg.length };
  let m: Buffer<ArrayBufferLike> = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json", config, layers }));
  if (o.manifestBytes) m = o.manifestBytes(m);
  const manifest = put(m);
  let top = { mediaType: "application/vnd.oci.image.manifest.v1+json", digest: manifest, size: m.length };
  if (o.architectures) {
    const ix = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json", manifests: o.architectures.map((architecture) => ({ ...top, platform: { os: "linux", architecture } })) }));
    top = { mediaType: "application/vnd.oci.image.index.v1+json", digest: put(ix), size: ix.length };
  }
  const index = { schemaVersion: 2, manifests: [{ ...top, annotations: { "org.opencontainers.image.ref.name": o.tag ?? "latest" } }] };
  fs.writeFileSync(path.join(dir, "index.json"), JSON.stringify(index));
  fs.writeFileSync(path.join(dir, "oci-layout"), '{"imageLayoutVersion":"1.0.0"}');
  return { manifest, layers: layers.map((l) => l.digest), config: config.digest };
}

export function blobPath(dir: string, digest: string): string {
  return path.join(dir, "blobs", "sha256", digest.slice(7));
}
