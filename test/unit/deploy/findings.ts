/**
 * Collects every broken invariant of a test as one line each, so that a failure lists them all
 * with where they are, instead of stopping at the first bare `expected true`.
 */
export class Findings {
  private readonly list: string[] = [];

  check(where: string, ok: boolean, what: string): void {
    if (!ok) this.list.push(`${where}: ${what}`);
  }

  /** Records what `fn` throws, if anything. */
  run(where: string, fn: () => unknown): void {
    try {
      fn();
    } catch (err) {
      this.list.push(`${where}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  expectNone(): void {
    expect(this.list).toEqual([]);
  }
}
