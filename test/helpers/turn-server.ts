import { spawn, type ChildProcess } from 'node:child_process';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { freePort } from './redis-process';
import { tempDir } from './server';

/** A real coturn (Debian `coturn`) listening on loopback, with the TURN REST-API shared secret. */
export interface TurnServer {
  url: string;
  secret: string;
  /** Where coturn allocates relayed addresses (on relayAddress()). */
  relayPorts: { min: number; max: number };
  lines: string[];
  stop(): Promise<void>;
}

/**
 * The address coturn relays from: this machine's own non-loopback IPv4 address when it has one.
 * A relay on 127.0.0.1 only works with a media server whose sockets are bound to the addresses
 * it advertises (libwebrtc's are): the RTP-level stack (libjuice) binds the wildcard address,
 * so its packets to a 127.0.0.1 relay leave from 127.0.0.1, which it never advertised, and the
 * relay's permission for its candidate address drops them. With the relay on the machine's own
 * address they leave from that address, as they would to a TURN server elsewhere. Nothing
 * leaves this machine either way.
 */
function relayAddress(): string {
  for (const list of Object.values(os.networkInterfaces()))
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  return '127.0.0.1';
}

export async function startTurnServer(secret: string): Promise<TurnServer> {
  const port = await freePort();
  const relayIp = relayAddress();
  const relayMin = 49152 + Math.floor(Math.random() * 8000);
  const dir = tempDir('turn');
  const args = [
    '-n', // no configuration file: everything is on this command line
    `--pidfile=${path.join(dir, 'turnserver.pid')}`,
    `--userdb=${path.join(dir, 'turndb')}`,
    '--listening-ip=127.0.0.1',
    `--relay-ip=${relayIp}`,
    `--listening-port=${port}`,
    `--min-port=${relayMin}`,
    `--max-port=${relayMin + 200}`,
    '--use-auth-secret',
    `--static-auth-secret=${secret}`,
    '--realm=mcu.test',
    // The media server under test is on this machine: its candidates are loopback addresses.
    '--allow-loopback-peers',
    '--no-cli',
    '--no-tls',
    '--no-dtls',
    '--log-file=stdout',
    '--simple-log',
  ];
  const proc: ChildProcess = spawn('turnserver', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const onData = (b: Buffer) => lines.push(...b.toString().split('\n').filter(Boolean));
  proc.stdout?.on('data', onData);
  proc.stderr?.on('data', onData);
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  // It listens on TCP and UDP on the same port (after its relay ports): TCP answering means ready.
  const deadline = Date.now() + 10000;
  while (!(await accepts(port))) {
    if (proc.exitCode !== null || Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`turnserver did not start:\n${lines.join('\n')}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url: `turn:127.0.0.1:${port}?transport=udp`,
    secret,
    relayPorts: { min: relayMin, max: relayMin + 200 },
    lines,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      await exited;
    },
  };
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}
