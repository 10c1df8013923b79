/**
 * Run API requests as whoever runs this file (a test starts it as a host user under
 * setpriv): argv[2] the socket, argv[3] a JSON list of {method, path, body?, wait?};
 * prints a JSON list of {status, error, metadata}. With `wait`, an operation's answer
 * is followed by its /wait, whose metadata is reported instead.
 */
import * as http from "node:http";

interface Step {
  method: string;
  path: string;
  body?: unknown;
  wait?: boolean;
}

interface Out {
  status: number;
  type: string;
  error: string;
  metadata: unknown;
}

function call(socketPath: string, method: string, path: string, body?: unknown): Promise<Out> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request({ socketPath, method, path, timeout: 130_000, headers: data ? { "Content-Type": "application/json" } : {} }, (res) => {
      let text = "";
      res.on("data", (d: Buffer) => (text += d.toString()));
      res.on("end", () => {
        const j = JSON.parse(text) as { type: string; error: string; metadata: unknown; operation: string };
        resolve({ status: res.statusCode ?? 0, type: j.type, error: j.error, metadata: j.type === "async" ? j.operation : j.metadata });
      });
    });
    req.on("error", reject);
    req.end(data);
  });
}

async function main(): Promise<void> {
  const socketPath = process.argv[2]!;
  const steps = JSON.parse(process.argv[3]!) as Step[];
  const out: Out[] = [];
  for (const s of steps) {
    const r = await call(socketPath, s.method, s.path, s.body);
    out.push(s.wait && r.type === "async" ? await call(socketPath, "GET", `${String(r.metadata)}/wait?timeout=120`) : r);
  }
  process.stdout.write(JSON.stringify(out));
}

void main();
