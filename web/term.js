// @ts-check
// An in-browser terminal (xterm.js, served by the daemon from npm's @xterm/xterm) on a
// zone's console or login pty WebSocket: the pty's bytes in binary frames both ways,
// the window size as a control message in a text frame.
import { Terminal } from "/ui/vendor/xterm.mjs";
import { FitAddon } from "/ui/vendor/addon-fit.mjs";

/**
 * @param {HTMLElement} box where the terminal is drawn
 * @param {string} path the WebSocket route (/1.0/zones/<n>/console or /login)
 * @param {(state: string) => void} onState "connecting", "connected", "closed"
 * @returns {{ close: () => void }}
 */
export function openTerminal(box, path, onState) {
  box.replaceChildren();
  const term = new Terminal({ cursorBlink: true, fontSize: 14, convertEol: false, scrollback: 2000,
    // A link the zone prints (OSC 8) is never opened: the zone's text must not steer the browser.
    linkHandler: { activate: () => undefined } });
  const fit = new FitAddon();
  term.loadAddon(fit);
  term.open(box);
  fit.fit();
  onState("connecting");
  const ws = new WebSocket(`${location.protocol === "https:" ? "wss:" : "ws:"}//${location.host}${path}?width=${term.cols}&height=${term.rows}`);
  ws.binaryType = "arraybuffer";
  const enc = new TextEncoder();
  const resize = () => {
    if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ command: "window-resize", args: { width: String(term.cols), height: String(term.rows) } }));
  };
  ws.onopen = () => {
    onState("connected");
    resize();
    term.focus();
  };
  ws.onmessage = (m) => {
    // Bytes of the zone's pty: written as bytes, so xterm decodes UTF-8 across frames
    // and any escape sequence the zone sends stays inside the terminal.
    if (m.data instanceof ArrayBuffer) term.write(new Uint8Array(m.data));
    else if (typeof m.data === "string" && !m.data.startsWith("{")) term.write(m.data);
  };
  ws.onclose = (e) => {
    onState("closed");
    term.write(`\r\n[disconnected${e.reason ? `: ${e.reason.replace(/[^\x20-\x7e]/g, "?")}` : ""}]\r\n`);
  };
  const data = term.onData((d) => {
    if (ws.readyState === WebSocket.OPEN) ws.send(enc.encode(d));
  });
  const sized = term.onResize(resize);
  const onWindow = () => fit.fit();
  window.addEventListener("resize", onWindow);
  return {
    close: () => {
      window.removeEventListener("resize", onWindow);
      data.dispose();
      sized.dispose();
      if (ws.readyState <= WebSocket.OPEN) ws.close(1000);
      term.dispose();
      box.replaceChildren();
    },
  };
}
