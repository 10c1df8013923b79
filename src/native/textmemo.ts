/**
 * The last parse of a file, by its text: zoneadmd reads its small tables (the zone
 * index, the uid slot registry) at every request and transition, and the same bytes
 * parse to the same rows. The text read is the key, never a stat, so nothing written
 * behind the daemon's back is missed; the caller gets its own copy to change.
 */
export class TextMemo<T> {
  private readonly last = new Map<string, { text: string; value: T }>();

  constructor(private readonly copy: (value: T) => T) {}

  /** parse(text), or a copy of the value that the same file's same text gave last time. */
  parse(file: string, text: string, parse: (text: string) => T): T {
    const had = this.last.get(file);
    if (had?.text === text) return this.copy(had.value);
    const value = parse(text);
    this.last.set(file, { text, value: this.copy(value) });
    return value;
  }
}
