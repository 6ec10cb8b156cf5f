import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { Logger, setLogSink } from '../../../workers/kernel/logger';
import type { RecordingManifest } from '../../../workers/protocol/recording';
import { ManifestStore } from '../../../workers/kernel/recordings/manifest-store';
import { sweepRetention } from '../../../workers/recording/recording-worker';

const logs: string[] = [];
setLogSink((line) => logs.push(line));
const logger = new Logger('test');

function manifest(id: string, over: Partial<RecordingManifest> = {}): RecordingManifest {
  const now = new Date().toISOString();
  return {
    id,
    roomId: 'room_1',
    state: 'recording',
    createdAt: now,
    startedAt: now,
    participantsSeen: [],
    profile: { width: 1280, height: 720, fps: 30 },
    interrupted: false,
    files: [],
    webmRequested: false,
    ...over,
  };
}

describe('ManifestStore', () => {
  let root: string;
  let store: ManifestStore;

  beforeEach(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'manifest-store-'));
    store = new ManifestStore(root, logger);
  });
  afterEach(async () => {
    await fs.rm(root, { recursive: true, force: true });
  });

  describe('ids and paths', () => {
    it.each([
      '../x',
      '/etc/passwd',
      'rec_../../',
      'rec_..%2f..%2fetc',
      'rec_%2e%2e%2f%2e%2e',
      'rec_abc/def123',
      'rec_abc\\def123',
      'rec_short',
      'rec_' + 'a'.repeat(41),
      'REC_abcdef',
      'rec_abcdef\0',
      '',
      'rec_abc def1',
    ])('dirOf(%j) throws InvalidRecordingIdError', (id) => {
      expect(store.isValidId(id)).toBe(false);
      expect(() => store.dirOf(id)).toThrow(expect.objectContaining({ name: 'InvalidRecordingIdError' }));
    });

    it('accepts a valid id and resolves strictly inside the recordings directory', () => {
      expect(store.isValidId('rec_Ab-9_xyz')).toBe(true);
      expect(store.dirOf('rec_Ab-9_xyz')).toBe(path.join(root, 'rec_Ab-9_xyz'));
      expect(store.pathOf('rec_Ab-9_xyz', 'segments/seg-00001.ts')).toBe(
        path.join(root, 'rec_Ab-9_xyz', 'segments', 'seg-00001.ts'),
      );
    });

    it.each(['../rec_other12/manifest.json', '..', '/etc/passwd', 'segments/../../x', '', 'a\0b', '.'])(
      'pathOf(id, %j) refuses to leave the recording directory',
      (file) => {
        expect(() => store.pathOf('rec_abcdef', file)).toThrow(
          expect.objectContaining({ name: 'InvalidRecordingIdError' }),
        );
      },
    );

    it('treats percent-encoded dots as literal names that stay inside', () => {
      expect(store.pathOf('rec_abcdef', '%2e%2e%2fx')).toBe(path.join(root, 'rec_abcdef', '%2e%2e%2fx'));
    });

    it('read() of a valid but unknown id throws RecordingNotFoundError', async () => {
      await expect(store.read('rec_missing1')).rejects.toMatchObject({ name: 'RecordingNotFoundError' });
      await expect(store.remove('rec_missing1')).rejects.toMatchObject({ name: 'RecordingNotFoundError' });
    });
  });

  describe('create / read / update', () => {
    it('create() writes a manifest that read() returns, and refuses a second create', async () => {
      await store.create(manifest('rec_abcdef'));
      expect(await store.read('rec_abcdef')).toEqual(
        manifest('rec_abcdef', { createdAt: expect.any(String), startedAt: expect.any(String) }),
      );
      await expect(store.create(manifest('rec_abcdef'))).rejects.toMatchObject({
        name: 'RecordingExistsError',
      });
    });

    it('serialises concurrent updates of one id: none is lost', async () => {
      await store.create(manifest('rec_abcdef'));
      await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          store.update('rec_abcdef', async (m) => {
            // Yield inside the read-modify-write: an unserialised store would lose updates here.
            await new Promise((r) => setTimeout(r, Math.random() * 3));
            m.participantsSeen.push({
              participantId: `p${i}`,
              displayName: `P${i}`,
              firstSeenAt: m.createdAt,
            });
          }),
        ),
      );
      const m = await store.read('rec_abcdef');
      expect(m.participantsSeen).toHaveLength(40);
    });

    it('keeps the old manifest and no temp file when an update throws', async () => {
      await store.create(manifest('rec_abcdef'));
      await expect(
        store.update('rec_abcdef', () => {
          throw new Error('boom');
        }),
      ).rejects.toThrow('boom');
      // A later update still runs (the chain is not poisoned).
      await store.update('rec_abcdef', (m) => ({ ...m, state: 'finalizing' }));
      expect((await store.read('rec_abcdef')).state).toBe('finalizing');
      expect(await fs.readdir(store.dirOf('rec_abcdef'))).toEqual(['manifest.json']);
    });

    it('refuses an update that changes the id', async () => {
      await store.create(manifest('rec_abcdef'));
      await expect(store.update('rec_abcdef', (m) => ({ ...m, id: 'rec_other12' }))).rejects.toMatchObject({
        name: 'ManifestCorruptError',
      });
    });

    it('reports a half-written or foreign manifest as ManifestCorruptError', async () => {
      await fs.mkdir(store.dirOf('rec_abcdef'));
      await fs.writeFile(store.pathOf('rec_abcdef', 'manifest.json'), '{"id": "rec_abc');
      await expect(store.read('rec_abcdef')).rejects.toMatchObject({ name: 'ManifestCorruptError' });
      await fs.writeFile(store.pathOf('rec_abcdef', 'manifest.json'), JSON.stringify(manifest('rec_zzzzzz')));
      await expect(store.read('rec_abcdef')).rejects.toMatchObject({ name: 'ManifestCorruptError' });
    });

    it('preserves fields it does not know (written by a newer version)', async () => {
      await store.create({ ...manifest('rec_abcdef'), future: 1 } as RecordingManifest);
      await store.update('rec_abcdef', (m) => void (m.progress = 5));
      expect(await store.read('rec_abcdef')).toMatchObject({ future: 1, progress: 5 });
    });
  });

  describe('list / remove / sha256', () => {
    it('lists readable manifests and skips broken directories with a warning', async () => {
      await store.create(manifest('rec_first1', { createdAt: '2024-01-01T00:00:00.000Z' }));
      await store.create(manifest('rec_second', { createdAt: '2024-01-02T00:00:00.000Z' }));
      await fs.mkdir(path.join(root, 'rec_broken'));
      await fs.mkdir(path.join(root, 'not-a-recording'));
      logs.length = 0;
      expect((await store.list()).map((m) => m.id)).toEqual(['rec_first1', 'rec_second']);
      expect(logs.some((l) => l.includes('"recordingId":"rec_broken"') && l.includes('"level":"warn"'))).toBe(
        true,
      );
    });

    it('list() of a missing recordings directory is empty', async () => {
      expect(await new ManifestStore(path.join(root, 'nope'), logger).list()).toEqual([]);
    });

    it('remove() deletes media and manifest', async () => {
      await store.create(manifest('rec_abcdef'));
      await fs.mkdir(store.pathOf('rec_abcdef', 'segments'));
      await fs.writeFile(store.pathOf('rec_abcdef', 'segments/seg-00000.ts'), 'x');
      await store.remove('rec_abcdef');
      expect(await fs.readdir(root)).toEqual([]);
      expect(await store.list()).toEqual([]);
    });

    it('sha256() streams a file', async () => {
      const file = path.join(root, 'f');
      await fs.writeFile(file, 'abc');
      expect(await store.sha256(file)).toBe(
        'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
      );
    });
  });

  describe('sweepRetention', () => {
    it('deletes only final recordings older than the retention period', async () => {
      const now = Date.parse('2024-03-01T00:00:00.000Z');
      const old = '2024-02-01T00:00:00.000Z';
      const recent = '2024-02-28T00:00:00.000Z';
      await store.create(manifest('rec_oldready', { state: 'ready', createdAt: old, finalizedAt: old }));
      await store.create(manifest('rec_oldfailed', { state: 'failed', createdAt: old }));
      await store.create(
        manifest('rec_oldinterr', { state: 'interrupted', createdAt: old, finalizedAt: old }),
      );
      await store.create(manifest('rec_oldlive1', { state: 'recording', createdAt: old }));
      await store.create(manifest('rec_newready', { state: 'ready', createdAt: old, finalizedAt: recent }));
      const removed = await sweepRetention(store, 7, logger, now);
      expect(removed.sort()).toEqual(['rec_oldfailed', 'rec_oldinterr', 'rec_oldready']);
      expect((await store.list()).map((m) => m.id).sort()).toEqual(['rec_newready', 'rec_oldlive1']);
    });
  });
});
