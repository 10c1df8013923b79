/**
 * The last parse of a file, by its text: zoneadmd reads its small tables (the zone
 * index, the uid slot registry) at every request and transition, and the same bytes
 * parse to the same rows. The text read is the key, never a stat, so nothing written
 * behind the daemon's back is missed. The rows are shared and frozen: a reader gets a
 * new array of them at no copy, and a writer (under its lock) copies what it changes.
 */
export class TextMemo<Row extends object> {
  private readonly last = new Map<string, { text: string; rows: readonly Readonly<Row>[] }>();

  /** parse(text)'s rows, or the ones the same file's same text gave last time. */
  parse(file: string, text: string, parse: (text: string) => Row[]): Readonly<Row>[] {
    const had = this.last.get(file);
    if (had?.text === text) return [...had.rows];
    const rows = parse(text).map((r) => Object.freeze(r));
    this.last.set(file, { text, rows });
    return [...rows];
  }
}
