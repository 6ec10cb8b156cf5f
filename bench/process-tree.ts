/**
 * CPU and memory of a process and all its descendants (Linux /proc): the server, its media
 * workers, its embedded redis-server and any ffmpeg it runs. Sampled on a timer; CPU is the
 * sum of utime+stime deltas, so 100 % means one core fully busy.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';

interface ProcInfo {
  pid: number;
  ppid: number;
  comm: string;
  /** utime + stime, clock ticks. */
  ticks: number;
  /** Start time since boot, clock ticks: tells a reused pid from the process we saw. */
  start: number;
}

let clockTicks = 0;
function ticksPerSecond(): number {
  if (clockTicks === 0) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

function readProc(pid: number): ProcInfo | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // comm is in parentheses and may contain spaces: split after the last ')'.
    const close = stat.lastIndexOf(')');
    const comm = stat.slice(stat.indexOf('(') + 1, close);
    const f = stat.slice(close + 2).split(' ');
    // Fields after comm start at 3 (state): ppid=4, utime=14, stime=15, starttime=22.
    return { pid, ppid: Number(f[1]), comm, ticks: Number(f[11]) + Number(f[12]), start: Number(f[19]) };
  } catch {
    return null;
  }
}

function rssKb(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** The process and every descendant alive right now. */
export function processTree(rootPid: number): ProcInfo[] {
  const all: ProcInfo[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const p = readProc(Number(name));
    if (p) all.push(p);
  }
  const children = new Map<number, ProcInfo[]>();
  for (const p of all) {
    const list = children.get(p.ppid) ?? [];
    list.push(p);
    children.set(p.ppid, list);
  }
  const root = all.find((p) => p.pid === rootPid);
  if (!root) return [];
  const out: ProcInfo[] = [];
  const stack = [root];
  while (stack.length > 0) {
    const p = stack.pop() as ProcInfo;
    out.push(p);
    stack.push(...(children.get(p.pid) ?? []));
  }
  return out;
}

/** The processes we may kill: the same pid with the same start time as when we listed it. */
export function stillSameProcess(p: { pid: number; start: number }): boolean {
  const now = readProc(p.pid);
  return now !== null && now.start === p.start;
}

export type ProcessRole =
  'control-plane' | 'media-worker' | 'recording-worker' | 'redis' | 'ffmpeg' | 'other';

export interface TreeUsage {
  /** Average CPU over the window, % of one core, whole tree. */
  cpuPercent: number;
  cpuByRole: Record<ProcessRole, number>;
  /** Highest sum of VmRSS over the tree seen in one sample, MiB. */
  peakRssMb: number;
  processes: number;
}

export class TreeSampler {
  private timer: NodeJS.Timeout | null = null;
  private last = new Map<number, { ticks: number; start: number }>();
  private windowStart = 0;
  private ticksByRole: Record<ProcessRole, number> = emptyRoles();
  private peakRssKb = 0;
  private maxProcesses = 0;
  /** CPU % over the most recent interval, for the progress line. */
  liveCpuPercent = 0;
  private lastSampleAt = 0;

  constructor(
    private readonly rootPid: number,
    private readonly intervalMs = 500,
  ) {}

  start(): void {
    this.sample();
    this.timer = setInterval(() => this.sample(), this.intervalMs);
  }

  /** Starts a measurement window: CPU and peak RSS count from here. */
  beginWindow(): void {
    this.sample();
    this.windowStart = performance.now();
    this.ticksByRole = emptyRoles();
    this.peakRssKb = 0;
    this.maxProcesses = 0;
  }

  endWindow(): TreeUsage {
    this.sample();
    const seconds = (performance.now() - this.windowStart) / 1000;
    const hz = ticksPerSecond();
    const cpuByRole = emptyRoles();
    let total = 0;
    for (const role of Object.keys(cpuByRole) as ProcessRole[]) {
      cpuByRole[role] = seconds > 0 ? (100 * this.ticksByRole[role]) / hz / seconds : 0;
      total += cpuByRole[role];
    }
    return { cpuPercent: total, cpuByRole, peakRssMb: this.peakRssKb / 1024, processes: this.maxProcesses };
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  private sample(): void {
    const now = performance.now();
    const tree = processTree(this.rootPid);
    const seen = new Map<number, { ticks: number; start: number }>();
    let rss = 0;
    let intervalTicks = 0;
    for (const p of tree) {
      const prev = this.last.get(p.pid);
      // A process first seen now started after the previous sample (or we just began): its
      // whole CPU time so far falls into this interval only if it is new since the last sample.
      const delta = prev && prev.start === p.start ? p.ticks - prev.ticks : this.last.size > 0 ? p.ticks : 0;
      intervalTicks += delta;
      if (this.windowStart > 0) this.ticksByRole[roleOf(p, this.rootPid)] += delta;
      seen.set(p.pid, { ticks: p.ticks, start: p.start });
      rss += rssKb(p.pid);
    }
    if (this.lastSampleAt > 0 && now > this.lastSampleAt) {
      this.liveCpuPercent = (100 * intervalTicks) / ticksPerSecond() / ((now - this.lastSampleAt) / 1000);
    }
    this.lastSampleAt = now;
    this.last = seen;
    if (this.windowStart > 0) {
      this.peakRssKb = Math.max(this.peakRssKb, rss);
      this.maxProcesses = Math.max(this.maxProcesses, tree.length);
    }
  }
}

function emptyRoles(): Record<ProcessRole, number> {
  return { 'control-plane': 0, 'media-worker': 0, 'recording-worker': 0, redis: 0, ffmpeg: 0, other: 0 };
}

const roles = new Map<string, ProcessRole>();

/** Classified by command line once per process (pid + start time). */
function roleOf(p: ProcInfo, rootPid: number): ProcessRole {
  if (p.pid === rootPid) return 'control-plane';
  const key = `${p.pid}:${p.start}`;
  let role = roles.get(key);
  if (role) return role;
  let cmd = p.comm;
  try {
    cmd = fs.readFileSync(`/proc/${p.pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    // gone already: fall back to the short name
  }
  if (/redis/.test(cmd)) role = 'redis';
  else if (/ffmpeg|ffprobe/.test(cmd)) role = 'ffmpeg';
  else if (/workers\/recording/.test(cmd)) role = 'recording-worker';
  else if (/workers\/media|--room/.test(cmd)) role = 'media-worker';
  else role = 'other';
  roles.set(key, role);
  return role;
}

/** One process of the tree at one instant: what the soak scenario records. */
export interface ProcessSnapshot {
  pid: number;
  /** Start time since boot (clock ticks): pid + start names one process, even if the pid is reused. */
  start: number;
  role: ProcessRole;
  /** Role of the parent inside the tree (an ffmpeg under a media worker captures a recording). */
  parentRole: ProcessRole | null;
  rssKb: number;
  /** Open file descriptors (entries of /proc/<pid>/fd); null if the process went away meanwhile. */
  fds: number | null;
}

export function snapshotTree(rootPid: number): ProcessSnapshot[] {
  const tree = processTree(rootPid);
  const roleByPid = new Map(tree.map((p) => [p.pid, roleOf(p, rootPid)]));
  return tree.map((p) => ({
    pid: p.pid,
    start: p.start,
    role: roleByPid.get(p.pid) ?? 'other',
    parentRole: roleByPid.get(p.ppid) ?? null,
    rssKb: rssKb(p.pid),
    fds: fdCount(p.pid),
  }));
}

function fdCount(pid: number): number | null {
  try {
    return fs.readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return null;
  }
}

/** Busy clock ticks of the whole machine (all cores) so far, from /proc/stat. */
export function machineBusyTicks(): number {
  try {
    const line = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0];
    const f = line.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal: busy = all but idle and iowait.
    return f.slice(0, 8).reduce((a, b) => a + b, 0) - f[3] - f[4];
  } catch {
    return 0;
  }
}

/** Converts a tick delta over `seconds` into % of one core. */
export function ticksToPercent(ticks: number, seconds: number): number {
  return seconds > 0 ? (100 * ticks) / ticksPerSecond() / seconds : 0;
}
