/** control.ts: the streams' control messages, and the one-line refusals of bad ones. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { parseControl } from "../../../src/daemon/api/control.js";

test("window-resize takes numbers or decimal strings; signals by number or name, only a terminal user's", () => {
  assert.deepEqual(parseControl('{"command":"window-resize","args":{"width":"80","height":"24"}}'), { command: "window-resize", width: 80, height: 24 });
  assert.deepEqual(parseControl('{"command":"window-resize","args":{"width":132,"height":43}}'), { command: "window-resize", width: 132, height: 43 });
  assert.deepEqual(parseControl('{"command":"signal","signal":15}'), { command: "signal", signal: "SIGTERM" });
  assert.deepEqual(parseControl('{"command":"signal","signal":"INT"}'), { command: "signal", signal: "SIGINT" });
  const bad: [string, RegExp][] = [
    ["nope", /^control message is not JSON: "nope"$/],
    ["[1]", /^control command undefined is not window-resize or signal$/],
    ['{"command":"window-resize","args":{"width":"0","height":"24"}}', /^width "0" is not a whole number from 1 to 1000$/],
    ['{"command":"window-resize","args":{"width":"8e1","height":"24"}}', /^width "8e1" is not/],
    ['{"command":"window-resize","args":{"width":80}}', /^height undefined is not/],
    ['{"command":"signal","signal":9}', /^signal 9 is not one of SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2$/],
    ['{"command":"signal","signal":"KILL"}', /^signal "KILL" is not one of/],
  ];
  for (const [text, re] of bad) assert.throws(() => parseControl(text), (e: Error) => re.test(e.message), text);
});
