import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { z } from 'zod';
import {
  RECORDING_FILE_KINDS,
  RECORDING_FILES,
  RECORDING_ID_PATTERN,
  RECORDING_STATES,
  type RecordingManifest,
} from '../../protocol/recording';
import { Logger } from '../logger';
import {
  InvalidRecordingIdError,
  ManifestCorruptError,
  RecordingExistsError,
  RecordingNotFoundError,
} from './errors';

/**
 * Reads and writes RECORDINGS_DIR/<id>/manifest.json. Used by the control plane (REST) and by the
 * recording worker, so it depends on nothing but the filesystem.
 *
 * Every write goes to a temporary file that is fsync'ed and then renamed over the manifest: a
 * crash (or a full disk) at any moment leaves either the old or the new manifest, never half of
 * one. Updates of one id are serialised within a process; across processes the ownership rule
 * of docs/recording.md applies (the media side writes while 'recording', the finalize job while
 * 'finalizing'), so two processes never read-modify-write the same manifest at the same time.
 */
export class ManifestStore {
  private readonly root: string;
  /** Tail of the update chain per id: the next update of that id waits for it. */
  private readonly updateChains = new Map<string, Promise<unknown>>();

  constructor(
    recordingsDir: string,
    private readonly logger: Logger = new Logger('manifest-store'),
  ) {
    this.root = path.resolve(recordingsDir);
  }

  get recordingsDir(): string {
    return this.root;
  }

  isValidId(id: unknown): id is string {
    return typeof id === 'string' && RECORDING_ID_PATTERN.test(id);
  }

  /** Absolute directory of a recording; throws InvalidRecordingIdError for anything that could escape. */
  dirOf(id: string): string {
    if (!this.isValidId(id)) throw new InvalidRecordingIdError(String(id));
    return this.inside(this.root, id, id);
  }

  /** Absolute path of a file inside a recording's directory (fileName may contain "segments/..."). */
  pathOf(id: string, fileName: string): string {
    const dir = this.dirOf(id);
    if (
      typeof fileName !== 'string' ||
      fileName === '' ||
      fileName.includes('\0') ||
      path.isAbsolute(fileName)
    ) {
      throw new InvalidRecordingIdError(id, `file name ${JSON.stringify(fileName)} is not a relative path`);
    }
    return this.inside(dir, fileName, id);
  }

  async create(manifest: RecordingManifest): Promise<RecordingManifest> {
    const dir = this.dirOf(manifest.id);
    await fs.mkdir(dir, { recursive: true });
    if (await exists(path.join(dir, RECORDING_FILES.manifest))) throw new RecordingExistsError(manifest.id);
    await this.writeAtomic(manifest.id, manifest);
    return manifest;
  }

  async read(id: string): Promise<RecordingManifest> {
    const file = this.pathOf(id, RECORDING_FILES.manifest);
    let text: string;
    try {
      text = await fs.readFile(file, 'utf8');
    } catch (err) {
      if (isErrno(err, 'ENOENT')) throw new RecordingNotFoundError(id);
      throw err;
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (err) {
      throw new ManifestCorruptError(id, (err as Error).message);
    }
    const parsed = manifestSchema.safeParse(json);
    if (!parsed.success) throw new ManifestCorruptError(id, parsed.error.issues[0]?.message ?? 'invalid');
    if (parsed.data.id !== id) throw new ManifestCorruptError(id, `it names ${parsed.data.id}`);
    return parsed.data as RecordingManifest;
  }

  /**
   * Read-modify-write. `fn` may mutate the manifest it gets or return a new one. Concurrent calls
   * for one id run one after the other (each sees the previous one's result).
   */
  async update(
    id: string,
    fn: (m: RecordingManifest) => RecordingManifest | void | Promise<RecordingManifest | void>,
  ): Promise<RecordingManifest> {
    this.dirOf(id);
    const previous = this.updateChains.get(id) ?? Promise.resolve();
    const run = previous
      .catch(() => undefined)
      .then(async () => {
        const current = await this.read(id);
        const next = (await fn(current)) ?? current;
        if (next.id !== id) throw new ManifestCorruptError(id, 'an update may not change the id');
        await this.writeAtomic(id, next);
        return next;
      });
    this.updateChains.set(id, run);
    try {
      return await run;
    } finally {
      // Forget the chain once it is idle so the map does not grow with every recording ever seen.
      if (this.updateChains.get(id) === run) this.updateChains.delete(id);
    }
  }

  /** Every readable manifest, oldest first. Unreadable directories are skipped with a warning. */
  async list(): Promise<RecordingManifest[]> {
    let entries: string[];
    try {
      entries = await fs.readdir(this.root);
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return [];
      throw err;
    }
    const manifests: RecordingManifest[] = [];
    for (const name of entries.sort()) {
      // Skips tombstones of remove(), temp files and anything else that is not a recording.
      if (!this.isValidId(name)) continue;
      try {
        manifests.push(await this.read(name));
      } catch (err) {
        this.logger.warn('skipping unreadable recording', { recordingId: name, err });
      }
    }
    return manifests.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  /**
   * Deletes a recording (media and manifest). The directory is first renamed to a tombstone whose
   * name is not a valid id, so a crash half-way through never leaves a listed recording with
   * missing files; a later remove of the same id then reports not found.
   */
  async remove(id: string): Promise<void> {
    const dir = this.dirOf(id);
    const tombstone = path.join(this.root, `.deleting-${id}-${randomBytes(4).toString('hex')}`);
    try {
      await fs.rename(dir, tombstone);
    } catch (err) {
      if (isErrno(err, 'ENOENT')) throw new RecordingNotFoundError(id);
      throw err;
    }
    await fs.rm(tombstone, { recursive: true, force: true });
  }

  /** Streaming SHA-256 (lowercase hex) of a file: recordings are too big to read into memory. */
  sha256(file: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const hash = createHash('sha256');
      createReadStream(file)
        .on('error', reject)
        .on('data', (chunk) => hash.update(chunk))
        .on('end', () => resolve(hash.digest('hex')));
    });
  }

  private inside(base: string, relative: string, id: string): string {
    const resolved = path.resolve(base, relative);
    if (!resolved.startsWith(base + path.sep)) {
      throw new InvalidRecordingIdError(id, `${JSON.stringify(relative)} resolves outside the recording`);
    }
    return resolved;
  }

  private async writeAtomic(id: string, manifest: RecordingManifest): Promise<void> {
    const target = this.pathOf(id, RECORDING_FILES.manifest);
    const tmp = `${target}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    const handle = await fs.open(tmp, 'wx');
    try {
      await handle.writeFile(JSON.stringify(manifest, null, 2) + '\n', 'utf8');
      await handle.sync();
    } catch (err) {
      await handle.close();
      await fs.rm(tmp, { force: true });
      throw err;
    }
    await handle.close();
    await fs.rename(tmp, target);
    // The rename itself lives in the directory: sync it too, or a power cut can undo it.
    const dirHandle = await fs.open(path.dirname(target), 'r');
    try {
      await dirHandle.sync();
    } finally {
      await dirHandle.close();
    }
  }
}

function isErrno(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as NodeJS.ErrnoException).code === code;
}

async function exists(file: string): Promise<boolean> {
  try {
    await fs.access(file);
    return true;
  } catch {
    return false;
  }
}

// Loose: fields written by a newer version survive an update made by an older one.
// Exported: the REST layer documents the manifest with the same schema (OpenAPI).
export const manifestSchema = z.looseObject({
  id: z.string(),
  roomId: z.string(),
  state: z.enum(RECORDING_STATES),
  createdAt: z.string(),
  startedAt: z.string(),
  endedAt: z.string().optional(),
  finalizedAt: z.string().optional(),
  participantsSeen: z.array(
    z.object({ participantId: z.string(), displayName: z.string(), firstSeenAt: z.string() }),
  ),
  profile: z.object({ width: z.number(), height: z.number(), fps: z.number() }),
  interrupted: z.boolean(),
  failureReason: z.string().optional(),
  media: z
    .object({
      durationSec: z.number(),
      width: z.number(),
      height: z.number(),
      videoCodec: z.string(),
      audioCodec: z.string(),
      sizeBytes: z.number(),
    })
    .optional(),
  files: z.array(
    z.object({
      name: z.string(),
      kind: z.enum(RECORDING_FILE_KINDS),
      sizeBytes: z.number(),
      sha256: z.string(),
    }),
  ),
  progress: z.number().optional(),
  webmRequested: z.boolean(),
});
