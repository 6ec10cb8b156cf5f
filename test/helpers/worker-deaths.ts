import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Metric } from 'prom-client';

/**
 * Worker deaths across the whole test run. Every server the helpers start (startTestServer,
 * spawnServer) reports, when it stops, how many of its workers died and how many the test said
 * it would kill (expectWorkerDeaths). One unexpected death fails that test file at once, and the
 * ledger (a file shared by every jest worker process, set up by test/global-setup.ts) lets the
 * global teardown fail the run with the whole list, so a crash can never pass as a flake.
 */
export interface WorkerDeathRecord {
  kind: string;
  signal: string;
  count: number;
}

interface LedgerEntry {
  testFile: string;
  server: string;
  deaths: WorkerDeathRecord[];
  expected: number;
  unexpected: number;
}

const expected = new WeakMap<object, number>();

/** This test kills `n` of the server's workers on purpose: they are not counted against it. */
export function expectWorkerDeaths(server: object, n: number): void {
  expected.set(server, (expected.get(server) ?? 0) + n);
}

/**
 * Records what a stopped server saw and returns a message if more workers died than its test
 * declared (null if not). Called by the server helpers, not by tests.
 */
export function settleWorkerDeaths(
  server: object,
  label: string,
  deaths: WorkerDeathRecord[],
): string | null {
  const total = deaths.reduce((n, d) => n + d.count, 0);
  const declared = expected.get(server) ?? 0;
  const unexpected = Math.max(0, total - declared);
  const entry: LedgerEntry = {
    testFile: path.relative(process.cwd(), expect.getState().testPath ?? 'unknown'),
    server: label,
    deaths,
    expected: declared,
    unexpected,
  };
  const ledger = process.env.MCU_WORKER_DEATH_LEDGER;
  if (ledger && total > 0) fs.appendFileSync(ledger, JSON.stringify(entry) + '\n');
  if (unexpected === 0) return null;
  return `${unexpected} unexpected worker death(s) on ${label}: ${describeDeaths(deaths)} (declared: ${declared})`;
}

/** For the global teardown: every entry with an unexpected death. */
export function unexpectedDeathsIn(ledgerFile: string): LedgerEntry[] {
  if (!fs.existsSync(ledgerFile)) return [];
  return fs
    .readFileSync(ledgerFile, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as LedgerEntry)
    .filter((e) => e.unexpected > 0);
}

export function describeDeaths(deaths: WorkerDeathRecord[]): string {
  return deaths.map((d) => `${d.count} × ${d.kind} by ${d.signal}`).join(', ');
}

/** mcu_worker_deaths_total as the server's own prom-client registry has it. */
export async function deathsFromRegistry(metric: Metric): Promise<WorkerDeathRecord[]> {
  const { values } = await metric.get();
  return values
    .filter((v) => v.value > 0)
    .map((v) => ({ kind: String(v.labels.kind), signal: String(v.labels.signal), count: v.value }));
}

/**
 * The deaths a server process logged (its error lines "media worker died" and "recording worker
 * died"): readable after the process is gone, unlike its /metrics.
 */
export function deathsFromLogLines(lines: string[]): WorkerDeathRecord[] {
  const counts = new Map<string, WorkerDeathRecord>();
  for (const line of lines) {
    if (!line.includes('worker died"')) continue;
    let entry: { level?: string; msg?: string; signal?: string | null };
    try {
      entry = JSON.parse(line);
    } catch {
      continue;
    }
    const kind =
      entry.msg === 'media worker died'
        ? 'media'
        : entry.msg === 'recording worker died'
          ? 'recording'
          : null;
    if (entry.level !== 'error' || !kind) continue;
    const signal = entry.signal ?? 'none';
    const key = `${kind}/${signal}`;
    const d = counts.get(key) ?? { kind, signal, count: 0 };
    d.count++;
    counts.set(key, d);
  }
  return [...counts.values()];
}
