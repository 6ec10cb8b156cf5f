import type { RecordingManifest } from '../../workers/protocol/recording';
import {
  ManifestCorruptError,
  RecordingNotFoundError,
  InvalidRecordingIdError,
} from '../../workers/kernel/recordings/errors';
import type { ManifestStore } from '../../workers/kernel/recordings/manifest-store';
import { Logger } from '../common/logger';

type Change = (m: RecordingManifest) => RecordingManifest | void;

/**
 * Manifest writes whose outcome is never lost. A write that fails (a full disk, an I/O error)
 * does not fail the caller: the new state is kept in memory, shown by every read through
 * `view()`, and written again every few seconds until it lands. If the process ends first, the
 * manifest on disk still says `recording`/`finalizing`, and the next start recovers it.
 */
export class DurableManifests {
  private readonly pending = new Map<string, { changes: Change[]; view: RecordingManifest }>();
  private timer: NodeJS.Timeout | null = null;
  private flushing = false;
  private readonly log = new Logger('recordings');

  constructor(
    private readonly store: ManifestStore,
    private readonly retryMs = 5000,
  ) {}

  /** Applies `change` on disk, or in memory (retried) when the disk refuses the write. */
  async update(id: string, change: Change): Promise<RecordingManifest> {
    const waiting = this.pending.get(id);
    if (waiting) {
      // Order matters: this change lands after the ones already waiting.
      waiting.changes.push(change);
      waiting.view = apply(waiting.view, change);
      return waiting.view;
    }
    try {
      return await this.store.update(id, change);
    } catch (err) {
      if (isPermanent(err)) throw err;
      const current = await this.store.read(id).catch(() => null);
      if (!current) throw err;
      const view = apply(current, change);
      this.pending.set(id, { changes: [change], view });
      this.log.error('could not write a recording manifest; its new state is kept in memory and retried', {
        recordingId: id,
        roomId: current.roomId,
        state: view.state,
        err,
      });
      this.schedule();
      return view;
    }
  }

  /** The manifest as the API shows it: with any state not yet written to disk. */
  view(m: RecordingManifest): RecordingManifest {
    return this.pending.get(m.id)?.view ?? m;
  }

  get unwritten(): number {
    return this.pending.size;
  }

  /** Tries the waiting writes once more (at shutdown) and stops retrying. */
  async close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.flush();
    for (const [id, p] of this.pending)
      this.log.error('recording manifest still not written at shutdown; the next start recovers it', {
        recordingId: id,
        state: p.view.state,
      });
  }

  private schedule(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.flush().finally(() => {
        if (this.pending.size > 0) this.schedule();
      });
    }, this.retryMs);
    this.timer.unref();
  }

  private async flush(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    try {
      for (const [id, p] of [...this.pending]) {
        try {
          while (p.changes.length > 0) {
            await this.store.update(id, p.changes[0]);
            p.changes.shift();
          }
          this.pending.delete(id);
          this.log.info('recording manifest written after earlier failures', {
            recordingId: id,
            state: p.view.state,
          });
        } catch (err) {
          if (isPermanent(err)) this.pending.delete(id);
          else this.log.debug('recording manifest still cannot be written', { recordingId: id, err });
        }
      }
    } finally {
      this.flushing = false;
    }
  }
}

function apply(m: RecordingManifest, change: Change): RecordingManifest {
  const copy = structuredClone(m);
  return change(copy) ?? copy;
}

/** Errors a retry cannot fix: the recording is gone or its manifest is unusable. */
function isPermanent(err: unknown): boolean {
  return (
    err instanceof RecordingNotFoundError ||
    err instanceof ManifestCorruptError ||
    err instanceof InvalidRecordingIdError
  );
}
