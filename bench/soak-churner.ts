/**
 * One churn cycle of the soak (bench/soak.ts), in a process of its own: a SyntheticParticipant
 * joins the room, sends and receives for the stay, leaves and the process ends.
 *
 *   SOAK_SERVER_URL=… SOAK_ADMIN_KEY=… node dist/bench/soak-churner.js <roomId> <index> <staySeconds>
 *
 * Why a process: @roamhq/wrtc now and then dies by SIGSEGV while a peer connection closes in a
 * client process (docs/media-engine.md). With 180 joins and leaves in the bench process itself,
 * two soak runs (2026-12-04 minute 19, 2026-12-06 minute 26) lost the whole run to such a crash
 * of the load generator, none of the server. Here a crash ends one cycle, which the soak counts
 * apart from the server's deaths.
 *
 * Prints JSON lines on stdout: {"joined": participantId}, then {"frames": n, "error": string|null}
 * once the stay is over, then {"left": true} after the leave was acknowledged (or timed out).
 */
import { SyntheticParticipant } from './synthetic-participant';

const STEP_TIMEOUT_MS = 15_000;

const say = (o: Record<string, unknown>): void => void process.stdout.write(`${JSON.stringify(o)}\n`);

function withTimeout<T>(p: Promise<T>, what: string): Promise<T> {
  return Promise.race([
    p,
    new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`${what} timed out`)), STEP_TIMEOUT_MS)),
  ]);
}

async function main(): Promise<void> {
  const [roomId, indexArg, stayArg] = process.argv.slice(2);
  const url = process.env.SOAK_SERVER_URL;
  const adminApiKey = process.env.SOAK_ADMIN_KEY;
  const index = Number(indexArg);
  const staySeconds = Number(stayArg);
  if (!roomId || !url || !adminApiKey || !Number.isInteger(index) || !(staySeconds > 0))
    throw new Error('usage: SOAK_SERVER_URL=… SOAK_ADMIN_KEY=… soak-churner <roomId> <index> <staySeconds>');
  const p = new SyntheticParticipant(index, roomId, 'standard');
  let error: string | null = null;
  try {
    const joined = await withTimeout(p.join({ url, adminApiKey }, STEP_TIMEOUT_MS), 'join');
    say({ joined: joined.participantId });
    await withTimeout(p.connect(joined), 'connect');
    p.sender.start();
    await new Promise((r) => setTimeout(r, staySeconds * 1000));
    if (p.framesTotal === 0) error = 'no video received while in the room';
  } catch (err) {
    error = (err as Error).message;
  }
  say({ frames: p.framesTotal, error });
  await p.leave(STEP_TIMEOUT_MS);
  say({ left: true });
}

main().then(
  // process.exit: no N-API teardown of the closed peer's objects (where the crashes happen).
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`soak-churner: ${(err as Error).message}\n`);
    process.exit(1);
  },
);
