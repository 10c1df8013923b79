/**
 * Server-sent events as the tests read them: a feeder for a response's text chunks
 * that calls `block` once per event block (the lines before a blank line), and `data`
 * with each block's `data:` payload.
 */
export function sseReader(data: (payload: string) => void, block: (text: string) => void = () => undefined): (chunk: string) => void {
  let buf = "";
  return (chunk) => {
    buf += chunk;
    let end: number;
    while ((end = buf.indexOf("\n\n")) >= 0) {
      const text = buf.slice(0, end);
      buf = buf.slice(end + 2);
      block(text);
      const line = text.split("\n").find((l) => l.startsWith("data: "));
      if (line) data(line.slice(6));
    }
  };
}
