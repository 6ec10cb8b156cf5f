/**
 * Janus 1.1.2 AudioBridge (Debian's `janus`), the reference audio MCU of the overload issue,
 * run by the audio-room benchmark on the same client load as our server: `JanusProcess` starts
 * it from a temporary configuration (the HTTP transport on a free port and the AudioBridge
 * plugin only), `JanusSession` speaks its HTTP API as one client does (a session, a handle on
 * the plugin, requests whose answers come back on the session's long poll).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from './server-process';

const JANUS = '/usr/bin/janus';
const LIB = '/usr/lib/x86_64-linux-gnu/janus';
const START_TIMEOUT_MS = 20_000;
const REQUEST_TIMEOUT_MS = 15_000;
/** Janus holds a long poll up to 30 s and then answers with a keepalive. */
const POLL_TIMEOUT_MS = 40_000;
/** Sessions time out after 60 s without a request; a keepalive well inside that. */
const KEEPALIVE_MS = 20_000;

/** Null when Janus can be run here, else what is missing. */
export function janusMissing(): string | null {
  if (!fs.existsSync(JANUS)) return `${JANUS} not found (Debian package \`janus\`: apt-get install janus)`;
  if (!fs.existsSync(path.join(LIB, 'plugins/libjanus_audiobridge.so')))
    return `the AudioBridge plugin is missing under ${LIB}/plugins`;
  // Janus has no --version; --help prints it and exits 0.
  const v = spawnSync(JANUS, ['--help'], { encoding: 'utf8' });
  if (v.status !== 0) return `${JANUS} --help failed: ${v.stderr}`;
  return null;
}

export class JanusProcess {
  url = '';
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), 'janus-bench-'));
  private proc: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();
  readonly logTail: string[] = [];

  get pid(): number {
    return this.proc?.pid ?? 0;
  }

  async start(): Promise<void> {
    const missing = janusMissing();
    if (missing) throw new Error(`Janus cannot run: ${missing}`);
    const port = await freePort();
    writeConfig(this.dir, port);
    const proc = spawn(JANUS, ['-C', path.join(this.dir, 'janus.jcfg'), '-F', this.dir, '-o', '-d', '3'], {
      cwd: this.dir,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.proc = proc;
    this.exited = new Promise((r) => proc.once('exit', () => r()));
    const keep = (b: Buffer) => {
      for (const line of b.toString().split('\n')) if (line.trim()) this.logTail.push(line);
      this.logTail.splice(0, Math.max(0, this.logTail.length - 50));
    };
    proc.stdout?.on('data', keep);
    proc.stderr?.on('data', keep);
    this.url = `http://127.0.0.1:${port}/janus`;
    const deadline = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      if (proc.exitCode !== null || proc.signalCode !== null)
        throw new Error(
          `janus exited at start (${proc.exitCode ?? proc.signalCode}): ${this.logTail.join('\n')}`,
        );
      const ok = await fetch(`${this.url}/info`, { signal: AbortSignal.timeout(1000) })
        .then((r) => r.ok)
        .catch(() => false);
      if (ok) return;
      if (Date.now() > deadline) throw new Error(`janus did not answer in ${START_TIMEOUT_MS} ms`);
      await sleep(200);
    }
  }

  async stop(): Promise<void> {
    const proc = this.proc;
    if (proc && proc.exitCode === null && proc.signalCode === null) {
      proc.kill('SIGTERM');
      const stopped = await Promise.race([this.exited.then(() => true), sleep(6000).then(() => false)]);
      if (!stopped) {
        proc.kill('SIGKILL');
        await this.exited;
      }
    }
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Janus's configuration: only the HTTP transport and the AudioBridge plugin, nothing on disk kept. */
function writeConfig(dir: string, port: number): void {
  const others = (kind: string, keep: string) =>
    fs
      .readdirSync(path.join(LIB, kind))
      .filter((f) => f.endsWith('.so') && f !== keep)
      .join(',');
  fs.writeFileSync(
    path.join(dir, 'janus.jcfg'),
    [
      'general: {',
      `  configs_folder = "${dir}"`,
      `  plugins_folder = "${LIB}/plugins"`,
      `  transports_folder = "${LIB}/transports"`,
      `  events_folder = "${LIB}/events"`,
      `  loggers_folder = "${LIB}/loggers"`,
      '  debug_level = 3',
      '}',
      'media: {}',
      'nat: { nice_debug = false }',
      `plugins: { disable = "${others('plugins', 'libjanus_audiobridge.so')}" }`,
      `transports: { disable = "${others('transports', 'libjanus_http.so')}" }`,
      'events: { broadcast = false }',
      '',
    ].join('\n'),
  );
  fs.writeFileSync(
    path.join(dir, 'janus.transport.http.jcfg'),
    [
      'general: {',
      '  json = "plain"',
      '  base_path = "/janus"',
      '  http = true',
      `  port = ${port}`,
      '  ip = "127.0.0.1"',
      '  https = false',
      '}',
      'admin: { admin_http = false }',
      '',
    ].join('\n'),
  );
  fs.writeFileSync(path.join(dir, 'janus.plugin.audiobridge.jcfg'), 'general: {}\n');
}

interface JanusMessage {
  janus: string;
  transaction?: string;
  sender?: number;
  data?: { id: number };
  error?: { code: number; reason: string };
  plugindata?: { plugin: string; data: Record<string, unknown> };
  jsep?: { type: 'offer' | 'answer'; sdp: string };
}

export interface PluginReply {
  data: Record<string, unknown>;
  jsep?: { type: 'offer' | 'answer'; sdp: string };
}

/** One client's session with one handle on the AudioBridge plugin. */
export class JanusSession {
  private readonly pending = new Map<
    string,
    { resolve: (r: PluginReply) => void; reject: (e: Error) => void }
  >();
  private readonly polling = new AbortController();
  private keepalive: NodeJS.Timeout | null = null;
  private closed = false;

  private constructor(
    private readonly url: string,
    private readonly session: number,
    private readonly handle: number,
  ) {}

  static async open(url: string): Promise<JanusSession> {
    const created = await post(url, { janus: 'create' });
    const session = idOf(created, 'create');
    const attached = await post(`${url}/${session}`, { janus: 'attach', plugin: 'janus.plugin.audiobridge' });
    const s = new JanusSession(url, session, idOf(attached, 'attach'));
    s.poll();
    s.keepalive = setInterval(() => {
      post(`${url}/${session}`, { janus: 'keepalive' }).catch(() => undefined);
    }, KEEPALIVE_MS);
    return s;
  }

  /**
   * A request to the plugin: a synchronous one (create) answers in the POST itself, an
   * asynchronous one (join, configure) with an ack, and then with an event carrying the same
   * transaction on the long poll. An error from Janus or from the plugin rejects.
   */
  async message(body: Record<string, unknown>, jsep?: { type: 'offer'; sdp: string }): Promise<PluginReply> {
    const transaction = randomBytes(8).toString('hex');
    const event = new Promise<PluginReply>((resolve, reject) => {
      this.pending.set(transaction, { resolve, reject });
      setTimeout(() => {
        if (this.pending.delete(transaction)) reject(new Error(`janus ${String(body.request)}: no answer`));
      }, REQUEST_TIMEOUT_MS).unref();
    });
    let reply: JanusMessage | null = null;
    try {
      reply = await post(`${this.url}/${this.session}/${this.handle}`, {
        janus: 'message',
        transaction,
        body,
        ...(jsep ? { jsep } : {}),
      });
    } finally {
      // Without an ack nothing will come on the long poll for this transaction.
      if (reply?.janus !== 'ack') this.pending.delete(transaction);
    }
    if (reply.janus === 'ack') return event;
    return pluginReply(reply, String(body.request));
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.keepalive) clearInterval(this.keepalive);
    this.polling.abort();
    post(`${this.url}/${this.session}`, { janus: 'destroy' }).catch(() => undefined);
    for (const p of this.pending.values()) p.reject(new Error('janus session closed'));
    this.pending.clear();
  }

  private poll(): void {
    void (async () => {
      while (!this.closed) {
        let events: JanusMessage[];
        try {
          const r = await fetch(`${this.url}/${this.session}?maxev=10&rid=${Date.now()}`, {
            signal: AbortSignal.any([this.polling.signal, AbortSignal.timeout(POLL_TIMEOUT_MS)]),
          });
          const body = (await r.json()) as JanusMessage | JanusMessage[];
          events = Array.isArray(body) ? body : [body];
        } catch {
          if (this.closed) return;
          await sleep(200);
          continue;
        }
        for (const e of events) {
          const waiting = e.transaction ? this.pending.get(e.transaction) : undefined;
          if (!waiting || e.janus !== 'event') continue;
          this.pending.delete(e.transaction as string);
          try {
            waiting.resolve(pluginReply(e, 'event'));
          } catch (err) {
            waiting.reject(err as Error);
          }
        }
      }
    })();
  }
}

function pluginReply(m: JanusMessage, what: string): PluginReply {
  if (m.janus === 'error') throw new Error(`janus ${what}: ${m.error?.code} ${m.error?.reason}`);
  const data = m.plugindata?.data;
  if (!data) throw new Error(`janus ${what}: no plugin data in ${JSON.stringify(m)}`);
  if (data.error) throw new Error(`janus ${what}: ${String(data.error_code)} ${String(data.error)}`);
  return { data, jsep: m.jsep };
}

async function post(url: string, body: Record<string, unknown>): Promise<JanusMessage> {
  const r = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ transaction: randomBytes(8).toString('hex'), ...body }),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  return (await r.json()) as JanusMessage;
}

function idOf(m: JanusMessage, what: string): number {
  if (m.janus !== 'success' || !m.data) throw new Error(`janus ${what}: ${JSON.stringify(m)}`);
  return m.data.id;
}
