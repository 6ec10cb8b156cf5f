/**
 * The admin page (public/admin.html): sign in with the admin API key, then manage rooms,
 * participants and recordings through the public REST API only (admin-api.ts).
 *
 * The page polls (every POLL_MS) instead of holding a socket: the REST API is the whole contract
 * for admins. A table is rebuilt only when its data changed, so a polled refresh does not steal
 * focus from a control someone is using.
 */
import {
  AdminApi,
  ApiError,
  type Participant,
  type Recording,
  type RoomDetail,
  type RoomSummary,
} from './admin-api';
import { byId, errorMessage, h } from './dom';
import type { LayoutKind } from '../../workers/protocol/media';

const POLL_MS = 2000;
/** sessionStorage: survives a reload, forgotten when the tab closes. */
const KEY_STORAGE = 'mcu.adminKey';
const LAYOUTS: readonly LayoutKind[] = ['grid', 'speaker', 'pinned'];

const signinForm = byId<HTMLFormElement>('signin');
const keyInput = byId<HTMLInputElement>('api-key');
const signinError = byId('signin-error');
const consoleEl = byId('console');
const status = byId('admin-status');
const roomsBody = byId<HTMLTableSectionElement>('rooms');
const recordingsBody = byId<HTMLTableSectionElement>('recordings');

let api: AdminApi | null = null;
let pollTimer: ReturnType<typeof setTimeout> | null = null;
let lastRooms = '';
let lastRecordings = '';
/** Object URLs of loaded thumbnails, by recording id (fetched once: they need the key). */
const thumbnails = new Map<string, string>();

signinForm.addEventListener('submit', (e) => {
  e.preventDefault();
  void signIn(keyInput.value.trim());
});
byId('signout').addEventListener('click', signOut);
byId<HTMLFormElement>('create-room').addEventListener('submit', (e) => {
  e.preventDefault();
  const id = byId<HTMLInputElement>('new-room-id').value.trim();
  const name = byId<HTMLInputElement>('new-room-name').value.trim();
  const layout = byId<HTMLSelectElement>('new-room-layout').value as LayoutKind;
  void act(`created room`, async (a) => {
    const room = await a.createRoom({ ...(id && { id }), ...(name && { name }), layout });
    byId<HTMLInputElement>('new-room-id').value = '';
    byId<HTMLInputElement>('new-room-name').value = '';
    return room.id;
  });
});

const saved = sessionStorage.getItem(KEY_STORAGE);
if (saved) void signIn(saved);

async function signIn(key: string): Promise<void> {
  signinError.textContent = '';
  const candidate = new AdminApi(key);
  try {
    await candidate.listRooms(); // the cheapest call that checks the key
  } catch (err) {
    sessionStorage.removeItem(KEY_STORAGE);
    signinError.textContent =
      err instanceof ApiError && err.status === 401
        ? 'That API key was not accepted.'
        : `Sign-in failed: ${errorMessage(err)}`;
    return;
  }
  api = candidate;
  sessionStorage.setItem(KEY_STORAGE, key);
  keyInput.value = '';
  signinForm.hidden = true;
  consoleEl.hidden = false;
  document.body.dataset.signedIn = 'true';
  await refresh();
}

function signOut(): void {
  api = null;
  sessionStorage.removeItem(KEY_STORAGE);
  if (pollTimer) clearTimeout(pollTimer);
  for (const url of thumbnails.values()) URL.revokeObjectURL(url);
  thumbnails.clear();
  lastRooms = lastRecordings = '';
  roomsBody.replaceChildren();
  recordingsBody.replaceChildren();
  consoleEl.hidden = true;
  signinForm.hidden = false;
  delete document.body.dataset.signedIn;
}

/** Runs an admin action, reports it in the status line, and refreshes the tables right away. */
async function act(what: string, fn: (a: AdminApi) => Promise<unknown>): Promise<void> {
  if (!api) return;
  try {
    const detail = await fn(api);
    status.textContent = typeof detail === 'string' ? `${what}: ${detail}` : what;
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return signOut();
    status.textContent = `Failed (${what}): ${errorMessage(err)}`;
  }
  await refresh();
}

async function refresh(): Promise<void> {
  if (pollTimer) clearTimeout(pollTimer);
  const a = api;
  if (!a) return;
  try {
    const [{ rooms }, listed] = await Promise.all([
      a.listRooms(),
      a.listRecordings().catch(missingRecordings),
    ]);
    // Live rooms need their participant lists; finalizing recordings their live progress.
    const [details, recordings] = await Promise.all([
      Promise.all(rooms.map((r) => (r.active ? a.getRoom(r.id).catch(() => null) : null))),
      Promise.all(
        listed.items.map((r) => (r.state === 'finalizing' ? a.getRecording(r.id).catch(() => r) : r)),
      ),
    ]);
    if (api !== a) return;
    renderRooms(rooms, details, recordings);
    renderRecordings(recordings);
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return signOut();
    status.textContent = `Refresh failed: ${errorMessage(err)}`;
  }
  if (api === a) pollTimer = setTimeout(() => void refresh(), POLL_MS);
}

/** A server without the recordings API still gets a working rooms page. */
function missingRecordings(err: unknown): { items: Recording[]; total: number } {
  if (err instanceof ApiError && err.status === 404) return { items: [], total: 0 };
  throw err;
}

function renderRooms(rooms: RoomSummary[], details: (RoomDetail | null)[], recordings: Recording[]): void {
  const signature = JSON.stringify([rooms, details, recordings.map((r) => [r.id, r.roomId, r.state])]);
  if (signature === lastRooms) return;
  lastRooms = signature;
  byId('no-rooms').hidden = rooms.length > 0;
  roomsBody.replaceChildren(
    ...rooms.map((room, i) => {
      const live = recordings.find((r) => r.roomId === room.id && r.state === 'recording');
      return roomRow(room, details[i], live ?? null);
    }),
  );
}

function roomRow(
  room: RoomSummary,
  detail: RoomDetail | null,
  recording: Recording | null,
): HTMLTableRowElement {
  const layout = h('select', { attrs: { 'aria-label': `Layout of ${room.id}` } });
  for (const l of LAYOUTS)
    layout.append(h('option', { value: l, selected: l === room.layout }, capitalize(l)));
  layout.addEventListener('change', () =>
    act(`layout of ${room.id}`, (a) =>
      a.updateRoom(room.id, { layout: layout.value as LayoutKind }).then(() => layout.value),
    ),
  );
  const participants = detail?.participants ?? [];
  const recordButton = recording
    ? button('Stop recording', room.id, () =>
        act(`stopped recording`, (a) => a.stopRecording(recording.id).then(() => recording.id)),
      )
    : button('Start recording', room.id, () =>
        act(`started recording`, (a) => a.startRecording(room.id).then((r) => r.id)),
      );
  const link = h('input', {
    readOnly: true,
    className: 'link-out',
    hidden: true,
    attrs: { 'aria-label': `Join link for ${room.id}` },
  });
  return h(
    'tr',
    { dataset: { roomId: room.id } },
    h(
      'td',
      {},
      h('strong', {}, room.name || room.id),
      h('div', { className: 'hint' }, room.id, room.active ? ' · live' : ' · idle'),
    ),
    h('td', {}, layout),
    h(
      'td',
      {},
      participants.length === 0
        ? h('span', { className: 'hint' }, `${room.participantCount} participant(s)`)
        : h('ul', { className: 'roster' }, ...participants.map((p) => participantItem(room, detail!, p))),
    ),
    h('td', {}, recording ? h('div', { className: 'state' }, '● recording') : null, recordButton),
    h(
      'td',
      {},
      h(
        'div',
        { className: 'controls' },
        button('Join link', room.id, () =>
          act('join link created', async (a) => {
            const { token } = await a.issueToken(room.id, {
              identity: `guest-${randomId()}`,
              displayName: 'Guest',
            });
            link.value = `${location.origin}/?room=${encodeURIComponent(room.id)}#token=${encodeURIComponent(token)}`;
            link.hidden = false;
            link.select();
          }),
        ),
        button(
          'Delete',
          `room ${room.id}`,
          () => {
            if (confirm(`Delete room ${room.id}? Everyone in it is disconnected.`)) {
              void act(`deleted room`, (a) => a.deleteRoom(room.id).then(() => room.id));
            }
          },
          'danger',
        ),
      ),
      link,
    ),
  );
}

function participantItem(room: RoomSummary, detail: RoomDetail, p: Participant): HTMLLIElement {
  const who = `${p.displayName} in ${room.id}`;
  const pinned = detail.pinnedParticipantId === p.participantId;
  const speaking = detail.activeSpeakerId === p.participantId;
  return h(
    'li',
    { dataset: { participantId: p.participantId, speaking: String(speaking) } },
    h('span', { className: 'name' }, p.displayName),
    h(
      'span',
      { className: 'flags' },
      ` ${[p.role, p.profile, pinned && 'pinned', speaking && 'speaking'].filter(Boolean).join(', ')}`,
    ),
    h(
      'div',
      { className: 'controls' },
      button(pinned ? 'Unpin' : 'Pin', who, () =>
        act(pinned ? 'unpinned' : 'pinned', (a) =>
          a
            .updateRoom(
              room.id,
              pinned
                ? { pinnedParticipantId: null }
                : { layout: 'pinned', pinnedParticipantId: p.participantId },
            )
            .then(() => p.displayName),
        ),
      ),
      button(p.audioMuted ? 'Unmute mic' : 'Mute mic', who, () =>
        act('microphone', (a) =>
          a.setMuted(room.id, p.participantId, 'audio', !p.audioMuted).then(() => p.displayName),
        ),
      ),
      button(p.videoMuted ? 'Unmute camera' : 'Mute camera', who, () =>
        act('camera', (a) =>
          a.setMuted(room.id, p.participantId, 'video', !p.videoMuted).then(() => p.displayName),
        ),
      ),
      button(
        'Kick',
        who,
        () => act('removed', (a) => a.kick(room.id, p.participantId).then(() => p.displayName)),
        'danger',
      ),
    ),
  );
}

function renderRecordings(recordings: Recording[]): void {
  const signature = JSON.stringify(recordings);
  if (signature === lastRecordings) return;
  lastRecordings = signature;
  byId('no-recordings').hidden = recordings.length > 0;
  recordingsBody.replaceChildren(...recordings.map(recordingRow));
}

function recordingRow(r: Recording): HTMLTableRowElement {
  const playable = r.state === 'ready' || r.state === 'interrupted';
  const thumb = h('img', { className: 'thumb', alt: `Preview of ${r.id}` });
  if (playable && r.files.some((f) => f.kind === 'thumbnail')) void loadThumbnail(r.id, thumb);
  else thumb.alt = 'no preview yet';
  const stateCell = h(
    'td',
    {},
    h('span', { className: `state state-${r.state}`, dataset: { state: r.state } }, r.state),
  );
  if (r.state === 'finalizing') {
    const pct = Math.round(r.progress ?? 0);
    stateCell.append(
      h('progress', { max: 100, value: pct, attrs: { 'aria-label': `Finalizing ${r.id}` } }, `${pct}%`),
    );
  }
  if (r.failureReason) stateCell.append(h('div', { className: 'hint' }, r.failureReason));
  return h(
    'tr',
    { dataset: { recordingId: r.id, state: r.state } },
    h('td', {}, thumb),
    h(
      'td',
      {},
      h('strong', {}, r.id),
      h('div', { className: 'hint' }, `room ${r.roomId} · ${new Date(r.createdAt).toLocaleString()}`),
    ),
    stateCell,
    h('td', { className: 'duration' }, r.media ? formatDuration(r.media.durationSec) : '–'),
    h(
      'td',
      {},
      h(
        'div',
        { className: 'controls' },
        playable ? button('Download', r.id, () => void download(r)) : null,
        r.state === 'recording'
          ? button('Stop', r.id, () =>
              act('stopped recording', (a) => a.stopRecording(r.id).then(() => r.id)),
            )
          : button(
              'Delete',
              r.id,
              () => {
                if (confirm(`Delete recording ${r.id} and its files?`)) {
                  void act('deleted recording', (a) => a.deleteRecording(r.id).then(() => r.id));
                }
              },
              'danger',
            ),
      ),
    ),
  );
}

async function loadThumbnail(id: string, img: HTMLImageElement): Promise<void> {
  let url = thumbnails.get(id);
  if (!url && api) {
    try {
      url = URL.createObjectURL(await api.thumbnail(id));
      thumbnails.set(id, url);
    } catch {
      img.alt = 'no preview';
      return;
    }
  }
  if (url) img.src = url;
}

async function download(r: Recording): Promise<void> {
  if (!api) return;
  status.textContent = `downloading ${r.id}…`;
  try {
    const blob = await api.downloadRecording(r.id);
    const url = URL.createObjectURL(blob);
    const a = h('a', { href: url, download: `${r.id}.mp4` });
    document.body.append(a);
    a.click();
    a.remove();
    // Give the browser time to start the download before the blob is released.
    setTimeout(() => URL.revokeObjectURL(url), 60000);
    status.textContent = `downloaded ${r.id}`;
  } catch (err) {
    status.textContent = `Download failed: ${errorMessage(err)}`;
  }
}

/** A button whose accessible name is its visible text plus what it acts on ("Kick – Ann in room1"). */
function button(text: string, target: string, onClick: () => unknown, variant = ''): HTMLButtonElement {
  const b = h(
    'button',
    { type: 'button', className: variant, attrs: { 'aria-label': `${text} – ${target}` } },
    text,
  );
  b.addEventListener('click', () => void onClick());
  return b;
}

function formatDuration(sec: number): string {
  const s = Math.round(sec);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

function randomId(): string {
  return Math.random().toString(36).slice(2, 10);
}
