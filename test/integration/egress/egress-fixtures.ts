import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import { runProcess } from '../../../workers/kernel/process-control';
import type { EgressView } from '../../../src/egress/egress.schemas';
import type { WebhookEnvelope } from '../../../src/webhooks/webhook-events';
import { api } from '../../helpers/api';
import { processTree } from '../../../bench/process-tree';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise((r) => srv.close(r));
  return port;
}

export interface RtmpReceiver {
  proc: ChildProcess;
  /** SIGTERM (ffmpeg closes its file and the RTMP connection), then waits for the exit. */
  stop(): Promise<void>;
}

function wrap(proc: ChildProcess): RtmpReceiver {
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  return {
    proc,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      await Promise.race([exited, sleep(5000).then(() => proc.kill('SIGKILL'))]);
      await exited;
    },
  };
}

/** A real RTMP server: ffmpeg listening on `port`, copying what it receives into `file` (MPEG-TS). */
export function rtmpReceiver(port: number, file: string): RtmpReceiver {
  const proc = spawn(
    'ffmpeg',
    [
      '-hide_banner',
      '-loglevel',
      'error',
      '-y',
      '-listen',
      '1',
      '-i',
      `rtmp://127.0.0.1:${port}/live/x`,
      '-c',
      'copy',
      '-f',
      'mpegts',
      file,
    ],
    { stdio: 'ignore' },
  );
  return wrap(proc);
}

export async function probeStreams(
  file: string,
): Promise<{ codecs: string[]; width: number; height: number }> {
  const { stdout } = await runProcess('ffprobe', ['-v', 'error', '-show_streams', '-of', 'json', file], {
    timeoutMs: 20000,
  });
  const j = JSON.parse(stdout.toString('utf8')) as {
    streams: { codec_name: string; width?: number; height?: number }[];
  };
  const v = j.streams.find((s) => s.width);
  return { codecs: j.streams.map((s) => s.codec_name).sort(), width: v?.width ?? 0, height: v?.height ?? 0 };
}

/** The last decodable frame of a file (I420), for a colour check. */
export async function lastFrame(file: string, width: number, height: number) {
  const { stdout } = await runProcess(
    'ffmpeg',
    ['-v', 'error', '-i', file, '-an', '-f', 'rawvideo', '-pix_fmt', 'yuv420p', '-'],
    { timeoutMs: 20000 },
  );
  // Every frame is decoded (the files are a few seconds long); the last one is kept.
  const size = (width * height * 3) / 2;
  const n = Math.floor(stdout.length / size);
  if (n === 0) throw new Error(`${file} has no decodable video frame`);
  return { width, height, data: new Uint8Array(stdout.subarray((n - 1) * size, n * size)) };
}

/** Mono 48 kHz PCM of a whole (short) file. */
export async function allAudio(file: string): Promise<Int16Array> {
  const { stdout } = await runProcess(
    'ffmpeg',
    ['-v', 'error', '-i', file, '-vn', '-ac', '1', '-ar', '48000', '-f', 's16le', '-'],
    { timeoutMs: 20000 },
  );
  return new Int16Array(stdout.buffer, stdout.byteOffset, Math.floor(stdout.length / 2));
}

export async function waitForEgress(
  server: { url: string },
  id: string,
  states: string[],
  timeoutMs = 30000,
): Promise<EgressView> {
  const deadline = Date.now() + timeoutMs;
  let last: EgressView | null = null;
  while (Date.now() < deadline) {
    const r = await api<EgressView>(server, `/api/egress/${id}`).catch(() => null);
    if (r?.status === 200) {
      last = r.body;
      if (states.includes(last.state)) return last;
    }
    await sleep(200);
  }
  throw new Error(
    `egress ${id} did not reach ${states.join('/')} in ${timeoutMs} ms (last: ${JSON.stringify(last)})`,
  );
}

/** A local webhook receiver: every delivered envelope, in arrival order. */
export async function webhookSink(): Promise<{
  url: string;
  events: WebhookEnvelope[];
  close(): Promise<void>;
}> {
  const events: WebhookEnvelope[] = [];
  const srv = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      try {
        events.push(JSON.parse(body) as WebhookEnvelope);
      } catch {
        // not ours
      }
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as net.AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    events,
    close: () => new Promise((r) => srv.close(() => r())),
  };
}

/** Command lines of every ffmpeg under this (test) process: the servers' workers run them. */
export function ffmpegCommandLines(): string[] {
  return processTree(process.pid)
    .filter((p) => p.comm === 'ffmpeg')
    .map((p) => {
      try {
        return fs.readFileSync(`/proc/${p.pid}/cmdline`, 'utf8').split('\0').join(' ');
      } catch {
        return '';
      }
    })
    .filter((c) => c !== '');
}
