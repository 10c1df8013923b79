/**
 * OCI image layouts (image-spec image-layout.md), as umoci and skopeo write them: a
 * directory with oci-layout, index.json and blobs/sha256/..., or a tar of one.
 * `PATH:TAG` picks the manifest whose org.opencontainers.image.ref.name is TAG; no tag,
 * the only manifest (or the first). Every blob is checked as it is read: its size and
 * the sha256 of its bytes against the descriptor that names it, index → manifest →
 * config → layers, so nothing unchecked reaches the zone's tree.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { ZoneError, q } from "../../native/errors.js";
import { supportedLayer } from "./layers.js";
import { entryParts, MAX_BLOB, readTar } from "./tar.js";

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
}

/** The parts of the image config (image-spec config.md) a zone uses. */
export interface ImageRunConfig {
  Entrypoint?: string[] | null;
  Cmd?: string[] | null;
  Env?: string[] | null;
  WorkingDir?: string;
  User?: string;
  StopSignal?: string;
}

export interface Image {
  /** What the administrator named, for messages and the record. */
  source: string;
  /** The manifest's digest: the image's identity. */
  digest: string;
  ref?: string;
  config: ImageRunConfig;
  layers: { desc: Descriptor; blob: Buffer; diffId?: string }[];
}

const MANIFEST = ["application/vnd.oci.image.manifest.v1+json", "application/vnd.docker.distribution.manifest.v2+json"];
const CONFIG = ["application/vnd.oci.image.config.v1+json", "application/vnd.docker.container.image.v1+json"];

/** Where the layout's files come from: a directory or a tar read whole. */
type Files = (rel: string) => Buffer | undefined;

function dirFiles(dir: string): Files {
  return (rel) => {
    const p = path.join(dir, rel);
    let st: fs.Stats;
    try {
      st = fs.lstatSync(p);
    } catch {
      return undefined;
    }
    if (!st.isFile()) throw new ZoneError(`image ${q(dir)}: ${q(rel)} is not a regular file`);
    if (st.size > MAX_BLOB) throw new ZoneError(`image ${q(dir)}: ${q(rel)} is larger than ${MAX_BLOB} bytes`);
    return fs.readFileSync(p);
  };
}

function tarFiles(file: string): Files {
  const map = new Map<string, Buffer>();
  for (const e of readTar(fs.readFileSync(file), `image ${q(file)}`)) {
    if (e.type === "file") map.set(entryParts(e.name, `image ${q(file)}`).join("/"), e.data);
  }
  return (rel) => map.get(rel);
}

function json(bytes: Buffer, what: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(bytes.toString("utf8"));
  } catch {
    throw new ZoneError(`${what} is not JSON`);
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw new ZoneError(`${what} is not a JSON object`);
  return v as Record<string, unknown>;
}

function descriptor(v: unknown, what: string): Descriptor {
  const d = v as Partial<Descriptor> | null;
  if (typeof d !== "object" || d === null || typeof d.mediaType !== "string" || typeof d.digest !== "string" || typeof d.size !== "number")
    throw new ZoneError(`${what}: not a descriptor with mediaType, digest and size`);
  if (!/^sha256:[0-9a-f]{64}$/.test(d.digest)) throw new ZoneError(`${what}: digest ${q(d.digest)} is not sha256:<64 hex digits>`);
  if (!Number.isSafeInteger(d.size) || d.size < 0 || d.size > MAX_BLOB) throw new ZoneError(`${what}: size ${d.size} is out of range`);
  return d as Descriptor;
}

function sha256(b: Buffer): string {
  return "sha256:" + createHash("sha256").update(b).digest("hex");
}

/** The blob a descriptor names, its size and digest checked. */
function blob(files: Files, d: Descriptor, what: string): Buffer {
  const b = files(`blobs/sha256/${d.digest.slice(7)}`);
  if (!b) throw new ZoneError(`${what} ${d.digest} is missing from the image`);
  if (b.length !== d.size) throw new ZoneError(`${what} ${d.digest} is ${b.length} bytes, its descriptor says ${d.size} (truncated or altered)`);
  const got = sha256(b);
  if (got !== d.digest) throw new ZoneError(`${what} ${d.digest} has digest ${got}: the image is corrupt or altered`);
  return b;
}

function strings(v: unknown, what: string): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || !v.every((s) => typeof s === "string")) throw new ZoneError(`${what} is not a list of strings`);
  return v as string[];
}

const INDEX = ["application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.list.v2+json"];
/** Node's process.arch in the OCI platform's words (GOARCH). */
const ARCH: Record<string, string> = { x64: "amd64", arm64: "arm64", arm: "arm", ia32: "386", ppc64: "ppc64le", s390x: "s390x", riscv64: "riscv64" };

/** A multi-platform image (skopeo copy --all): the manifest for this host's linux platform. */
function platformManifest(files: Files, d: Descriptor, name: string): Descriptor {
  const index = json(blob(files, d, "image index"), `${name}: image index ${d.digest}`);
  if (!Array.isArray(index.manifests)) throw new ZoneError(`${name}: image index ${d.digest} has no manifests list`);
  const arch = ARCH[process.arch] ?? process.arch;
  const found = index.manifests.find((m) => {
    const p = (m as { platform?: { os?: unknown; architecture?: unknown } } | null)?.platform;
    return p?.os === "linux" && p.architecture === arch;
  });
  if (found === undefined) throw new ZoneError(`${name}: image index ${d.digest} has no manifest for linux/${arch}`);
  return descriptor(found, `${name}: image index ${d.digest} manifest for linux/${arch}`);
}

/** Read and check image `spec` (PATH or PATH:TAG); nothing is written anywhere. */
export function openImage(spec: string): Image {
  let file = spec;
  let tag: string | undefined;
  const colon = spec.lastIndexOf(":");
  if (!fs.existsSync(spec) && colon > 0) {
    file = spec.slice(0, colon);
    tag = spec.slice(colon + 1);
  }
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch {
    throw new ZoneError(`image ${q(file)} does not exist`);
  }
  const name = `image ${q(spec)}`;
  const files = st.isDirectory() ? dirFiles(file) : tarFiles(file);
  const layout = files("oci-layout");
  if (!layout) throw new ZoneError(`${name} is not an OCI image layout: no oci-layout file`);
  if (json(layout, `${name}: oci-layout`).imageLayoutVersion !== "1.0.0") throw new ZoneError(`${name}: oci-layout's imageLayoutVersion is not "1.0.0"`);
  const indexBytes = files("index.json");
  if (!indexBytes) throw new ZoneError(`${name} has no index.json`);
  const index = json(indexBytes, `${name}: index.json`);
  if (!Array.isArray(index.manifests)) throw new ZoneError(`${name}: index.json has no manifests list`);
  const all = index.manifests.map((m, i) => descriptor(m, `${name}: index.json manifest ${i}`));
  const refOf = (d: Descriptor): string | undefined => d.annotations?.["org.opencontainers.image.ref.name"];
  const tagged = tag === undefined ? all[0] : all.find((d) => refOf(d) === tag);
  if (!tagged) throw new ZoneError(tag === undefined ? `${name}: index.json lists no manifest` : `${name}: no manifest tagged ${q(tag)}; tags: ${all.map(refOf).filter(Boolean).join(", ") || "none"}`);
  const pick = INDEX.includes(tagged.mediaType) ? platformManifest(files, tagged, name) : tagged;
  if (!MANIFEST.includes(pick.mediaType)) throw new ZoneError(`${name}: manifest media type ${q(pick.mediaType)} is not supported (an image manifest, not an index, is)`);
  const manifest = json(blob(files, pick, "manifest"), `${name}: manifest ${pick.digest}`);
  const cfgDesc = descriptor(manifest.config, `${name}: manifest config`);
  if (!CONFIG.includes(cfgDesc.mediaType)) throw new ZoneError(`${name}: config media type ${q(cfgDesc.mediaType)} is not supported`);
  const config = json(blob(files, cfgDesc, "config"), `${name}: config ${cfgDesc.digest}`);
  if (!Array.isArray(manifest.layers)) throw new ZoneError(`${name}: manifest ${pick.digest} has no layers list`);
  const descs = manifest.layers.map((l, i) => descriptor(l, `${name}: layer ${i}`));
  for (const d of descs) if (!supportedLayer(d.mediaType)) throw new ZoneError(`${name}: layer ${d.digest} has media type ${q(d.mediaType)}, which is not supported (tar, tar+gzip and tar+zstd are)`);
  const rootfs = (config.rootfs ?? {}) as { diff_ids?: unknown };
  const diffIds = strings(rootfs.diff_ids, `${name}: config rootfs.diff_ids`) ?? [];
  if (diffIds.length !== descs.length) throw new ZoneError(`${name}: config lists ${diffIds.length} diff_ids for ${descs.length} layers`);
  const run = (config.config ?? {}) as Record<string, unknown>;
  const text = (k: string): string | undefined => {
    const v = run[k];
    if (v !== undefined && v !== null && typeof v !== "string") throw new ZoneError(`${name}: config ${k} is not a string`);
    return (v as string | undefined) || undefined;
  };
  return {
    source: spec,
    digest: pick.digest,
    ref: refOf(pick),
    config: {
      Entrypoint: strings(run.Entrypoint, `${name}: config Entrypoint`),
      Cmd: strings(run.Cmd, `${name}: config Cmd`),
      Env: strings(run.Env, `${name}: config Env`),
      WorkingDir: text("WorkingDir"),
      User: text("User"),
      StopSignal: text("StopSignal"),
    },
    layers: descs.map((d, i) => ({ desc: d, blob: blob(files, d, "layer"), diffId: diffIds[i] })),
  };
}

export { sha256 };
