import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';

/**
 * A network namespace joined to this machine by a veth pair whose host end can be shaped with a
 * tbf qdisc: everything sent to a process in the namespace (and nothing else) crosses a link of
 * a set rate. Used by the adaptive-downlink test and benchmark. Needs root (ip netns, tc).
 */
export interface ShapedLink {
  /** The namespace's name (`<prefix>-ns-<id>`). */
  readonly ns: string;
  /** The host end's address: a server bound to it is reachable from inside. */
  readonly hostIp: string;
  /** The host → namespace rate: tbf at `kbit` with a ~100 ms queue (20 ms burst, ≥ 4 kB). */
  shape(kbit: number): void;
  /** The namespace → host rate (what a process inside sends: its uplink), the same tbf. */
  shapeUplink(kbit: number): void;
  /**
   * Drops this share (0..1) of the UDP packets entering the namespace, at random (an nftables
   * `numgen random` rule inside it; this kernel has no netem). 0 removes the rule.
   */
  loss(fraction: number): void;
  /** UDP packets that reached the namespace's input hook, and those the loss rule dropped. */
  lossCounters(): { seen: number; dropped: number };
  /** Runs `node <script>` inside the namespace; it dies with this process (pdeathsig). */
  spawnNode(
    script: string,
    opts: { cwd: string; env: NodeJS.ProcessEnv; stderr: 'inherit' | 'ignore' },
  ): ChildProcess;
  /** Deletes the namespace, which takes the veth pair and its qdisc with it. */
  destroy(): void;
}

export function canShapeLinks(): boolean {
  return (
    process.getuid?.() === 0 &&
    spawnSync('ip', ['netns', 'list']).status === 0 &&
    spawnSync('tc', ['-V']).status === 0
  );
}

/** Loss needs nftables too (`nft`, Debian's nftables package). */
export function canDropPackets(): boolean {
  return canShapeLinks() && spawnSync('nft', ['--version']).status === 0;
}

/** The table the loss rule lives in, inside the namespace. */
const LOSS_TABLE = 'shaped_link_loss';

function sh(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}`);
}

/** `prefix`: a few letters naming the owner; `subnetBase`: the /16 the link's /30 comes from. */
export function createShapedLink(prefix: string, subnetBase: string): ShapedLink {
  const id = randomBytes(2).toString('hex');
  const ns = `${prefix}-ns-${id}`;
  const hostIf = `${prefix}h${id}`;
  const nsIf = `${prefix}c${id}`;
  const subnet = `${subnetBase}.${16 + (parseInt(id, 16) % 200)}`;
  const hostIp = `${subnet}.1`;
  sh('ip', ['netns', 'add', ns]);
  try {
    sh('ip', ['link', 'add', hostIf, 'type', 'veth', 'peer', 'name', nsIf]);
    sh('ip', ['link', 'set', nsIf, 'netns', ns]);
    sh('ip', ['addr', 'add', `${hostIp}/30`, 'dev', hostIf]);
    sh('ip', ['link', 'set', hostIf, 'up']);
    const inNs = (...args: string[]) => sh('ip', ['netns', 'exec', ns, ...args]);
    inNs('ip', 'addr', 'add', `${subnet}.2/30`, 'dev', nsIf);
    inNs('ip', 'link', 'set', nsIf, 'up');
    inNs('ip', 'link', 'set', 'lo', 'up');
  } catch (err) {
    spawnSync('ip', ['netns', 'del', ns]);
    spawnSync('ip', ['link', 'del', hostIf]);
    throw err;
  }
  /** tbf at `kbit` with a ~100 ms queue (20 ms burst, at least 4 kB). */
  const tbf = (dev: string, kbit: number): string[] => [
    'qdisc',
    'replace',
    'dev',
    dev,
    'root',
    'tbf',
    'rate',
    `${kbit}kbit`,
    'burst',
    String(Math.max(4000, Math.round((kbit * 1000) / 8 / 50))),
    'latency',
    '100ms',
  ];
  return {
    ns,
    hostIp,
    shape(kbit) {
      sh('tc', tbf(hostIf, kbit));
    },
    shapeUplink(kbit) {
      sh('ip', ['netns', 'exec', ns, 'tc', ...tbf(nsIf, kbit)]);
    },
    loss(fraction) {
      spawnSync('ip', ['netns', 'exec', ns, 'nft', 'delete', 'table', 'inet', LOSS_TABLE]);
      if (fraction <= 0) return;
      // Per 10 000 so that 0.5 % is expressible; the first rule counts every UDP packet in.
      const per10k = Math.round(Math.min(1, fraction) * 10_000);
      const ruleset = [
        `table inet ${LOSS_TABLE} {`,
        '  chain input {',
        '    type filter hook input priority 0; policy accept;',
        '    meta l4proto udp counter',
        `    meta l4proto udp numgen random mod 10000 < ${per10k} counter drop`,
        '  }',
        '}',
      ].join('\n');
      const r = spawnSync('ip', ['netns', 'exec', ns, 'nft', '-f', '-'], {
        input: ruleset,
        encoding: 'utf8',
      });
      if (r.status !== 0) throw new Error(`nft in ${ns} failed: ${r.stderr}`);
    },
    lossCounters() {
      const r = spawnSync('ip', ['netns', 'exec', ns, 'nft', 'list', 'table', 'inet', LOSS_TABLE], {
        encoding: 'utf8',
      });
      if (r.status !== 0) return { seen: 0, dropped: 0 };
      const counts = [...r.stdout.matchAll(/counter packets (\d+)/g)].map((m) => Number(m[1]));
      return { seen: counts[0] ?? 0, dropped: counts[1] ?? 0 };
    },
    spawnNode(script, opts) {
      return spawn(
        'setpriv',
        ['--pdeathsig', 'SIGTERM', '--', 'ip', 'netns', 'exec', ns, process.execPath, script],
        { cwd: opts.cwd, env: opts.env, stdio: ['pipe', 'pipe', opts.stderr] },
      );
    },
    destroy() {
      spawnSync('ip', ['netns', 'del', ns]);
    },
  };
}

/**
 * Calls `onLine` with each JSON line `proc` writes on stdout (the network-namespace fixtures in
 * test/fixtures/netns report their state so, one object per line).
 */
export function followJsonLines<T>(proc: ChildProcess, onLine: (line: T) => void): void {
  let buf = '';
  proc.stdout?.on('data', (b: Buffer) => {
    buf += b.toString();
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const text = buf.slice(0, i);
      buf = buf.slice(i + 1);
      onLine(JSON.parse(text) as T);
    }
  });
}
