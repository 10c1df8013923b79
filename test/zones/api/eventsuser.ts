/**
 * Follow /1.0/events as whoever runs this file (a test starts it as a host user under
 * setpriv): argv[2] the socket. Prints "subscribed" once the stream is open, then each
 * event's data as one JSON line, until it is killed or the stream ends.
 */
import * as http from "node:http";
import { sseReader } from "../../support/sse.js";

const req = http.request({ socketPath: process.argv[2]!, method: "GET", path: "/1.0/events" }, (res) => {
  if (res.statusCode !== 200) {
    process.stderr.write(`events: HTTP ${res.statusCode}\n`);
    process.exit(1);
  }
  res.setEncoding("utf8");
  res.on(
    "data",
    sseReader(
      (data) => process.stdout.write(`${data}\n`),
      (block) => block === ": subscribed" && process.stdout.write("subscribed\n"),
    ),
  );
  res.on("end", () => process.exit(0));
});
req.on("error", (e) => {
  process.stderr.write(`events: ${e.message}\n`);
  process.exit(1);
});
req.end();
