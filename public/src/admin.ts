/**
 * The admin page (public/admin.html): sign in with the admin API key, then manage rooms,
 * participants, recordings, live streams out (egress: RTMP, HLS with a player) and streams in
 * (ingress: RTMP push, URL pull) through the public REST API only (admin-api.ts).
 *
 * The page polls (every POLL_MS) instead of holding a socket: the REST API is the whole contract
 * for admins. A table is rebuilt only when its data changed, so a polled refresh does not steal
 * focus from a control someone is using.
 */
import type HlsType from 'hls.js';
import {
  AdminApi,
  ApiError,
  type Egress,
  type Ingress,
  type Participant,
  type Recording,
  type RoomDetail,
  type RoomSummary,
} from './admin-api';
import { byId, capitalize, errorMessage, h } from './dom';
import { FINAL_EGRESS_STATES, isOneOf, LAYOUTS, RTSP_TRANSPORTS } from '../../workers/protocol/media';

const POLL_MS = 2000;
/** sessionStorage: survives a reload, forgotten when the tab closes. */
const KEY_STORAGE = 'mcu.adminKey';

const signinForm = byId<HTMLFormElement>('signin');
const keyInput = byId<HTMLInputElement>('api-key');
const signinError = byId('signin-error');
const consoleEl = byId('console');
const status = byId('admin-status');
const roomsBody = byId<HTMLTableSectionElement>('rooms');
const recordingsBody = byId<HTMLTableSectionElement>('recordings');
const playerCard = byId('player-card');
const player = byId<HTMLVideoElement>('hls-player');
const playerError = byId('player-error');
/**
 * hls.js, served by this server from its npm package (src/server.ts: /vendor/hls.js/), loaded
 * the first time someone opens the player: no CDN, and the page stays small without it.
 */
const HLS_JS_PATH = 'vendor/hls.js/hls.min.js';
/** Egresses and ingresses listed per room (the API keeps recently ended ones). */
const STREAMS_PER_ROOM = 4;
/** How long Play waits for a new HLS egress's first segment. */
const PLAYLIST_WAIT_MS = 30000;

let api: AdminApi | null = null;
let pollTimer: ReturnType<typeof setTimeout> | null = null;
let lastRooms = '';
let lastRecordings = '';
/** Object URLs of loaded thumbnails, by recording id (fetched once: they need the key). */
const thumbnails = new Map<string, string>();
/**
 * What was typed into a room's egress/ingress forms, by room id: a polled refresh that rebuilds
 * the table (a stream changed state) must not wipe a half-typed URL.
 */
const drafts = new Map<string, Record<string, string>>();
let hls: HlsType | null = null;
let hlsLoading: Promise<typeof HlsType> | null = null;

for (const l of LAYOUTS) byId('new-room-layout').append(h('option', { value: l }, capitalize(l)));

signinForm.addEventListener('submit', (e) => {
  e.preventDefault();
  void signIn(keyInput.value.trim());
});
byId('signout').addEventListener('click', signOut);
byId('player-close').addEventListener('click', closePlayer);
byId<HTMLFormElement>('create-room').addEventListener('submit', (e) => {
  e.preventDefault();
  const id = byId<HTMLInputElement>('new-room-id').value.trim();
  const name = byId<HTMLInputElement>('new-room-name').value.trim();
  const layout = byId<HTMLSelectElement>('new-room-layout').value;
  if (!isOneOf(LAYOUTS, layout)) return;
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
  drafts.clear();
  closePlayer();
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
    const [{ rooms }, listed, egress, ingress] = await Promise.all([
      a.listRooms(),
      a.listRecordings().catch(missingRecordings),
      a.listEgress().catch((e) => missing<Egress>(e)),
      a.listIngress().catch((e) => missing<Ingress>(e)),
    ]);
    // Live rooms need their participant lists; finalizing recordings their live progress.
    const [details, recordings] = await Promise.all([
      Promise.all(rooms.map((r) => (r.active ? a.getRoom(r.id).catch(() => null) : null))),
      Promise.all(
        listed.items.map((r) => (r.state === 'finalizing' ? a.getRecording(r.id).catch(() => r) : r)),
      ),
    ]);
    if (api !== a) return;
    renderRooms(rooms, details, recordings, { egress: egress.items, ingress: ingress.items });
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

/** A server without the egress or ingress API still gets the rest of the page. */
function missing<T>(err: unknown): { items: T[] } {
  if (err instanceof ApiError && err.status === 404) return { items: [] };
  throw err;
}

interface Streams {
  egress: Egress[];
  ingress: Ingress[];
}

function renderRooms(
  rooms: RoomSummary[],
  details: (RoomDetail | null)[],
  recordings: Recording[],
  streams: Streams,
): void {
  const signature = JSON.stringify([
    rooms,
    details,
    recordings.map((r) => [r.id, r.roomId, r.state]),
    streams,
  ]);
  if (signature === lastRooms) return;
  lastRooms = signature;
  byId('no-rooms').hidden = rooms.length > 0;
  roomsBody.replaceChildren(
    ...rooms.map((room, i) => {
      const live = recordings.find((r) => r.roomId === room.id && r.state === 'recording');
      return roomRow(room, details[i], live ?? null, {
        egress: streams.egress.filter((e) => e.roomId === room.id).slice(0, STREAMS_PER_ROOM),
        ingress: streams.ingress.filter((e) => e.roomId === room.id).slice(0, STREAMS_PER_ROOM),
      });
    }),
  );
}

function roomRow(
  room: RoomSummary,
  detail: RoomDetail | null,
  recording: Recording | null,
  streams: Streams,
): HTMLTableRowElement {
  const layout = h('select', { attrs: { 'aria-label': `Layout of ${room.id}` } });
  for (const l of LAYOUTS)
    layout.append(h('option', { value: l, selected: l === room.layout }, capitalize(l)));
  layout.addEventListener('change', () => {
    const chosen = layout.value;
    if (isOneOf(LAYOUTS, chosen))
      void act(`layout of ${room.id}`, (a) => a.updateRoom(room.id, { layout: chosen }).then(() => chosen));
  });
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
    h('td', { className: 'streams' }, egressBlock(room, streams.egress), ingressBlock(room, streams.ingress)),
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

/** A form control whose value survives a table rebuild (see `drafts`). */
function drafted<T extends HTMLInputElement | HTMLSelectElement>(roomId: string, key: string, el: T): T {
  const d = drafts.get(roomId) ?? {};
  drafts.set(roomId, d);
  const saved = d[key];
  if (saved !== undefined) {
    if (el instanceof HTMLInputElement && el.type === 'checkbox') el.checked = saved === 'true';
    else el.value = saved;
  }
  const save = () =>
    (d[key] = el instanceof HTMLInputElement && el.type === 'checkbox' ? String(el.checked) : el.value);
  el.addEventListener('input', save);
  el.addEventListener('change', save);
  return el;
}

function egressBlock(room: RoomSummary, list: Egress[]): HTMLElement {
  const type = drafted(
    room.id,
    'egressType',
    h(
      'select',
      { attrs: { 'aria-label': `Egress type for ${room.id}` } },
      h('option', { value: 'hls' }, 'HLS'),
      h('option', { value: 'rtmp' }, 'RTMP'),
    ),
  );
  const url = drafted(
    room.id,
    'egressUrl',
    h('input', {
      type: 'url',
      placeholder: 'rtmp://host/app/key',
      attrs: { 'aria-label': `RTMP target for ${room.id}` },
    }),
  );
  const showUrl = () => (url.hidden = type.value !== 'rtmp');
  type.addEventListener('change', showUrl);
  showUrl();
  const start = button('Start egress', room.id, () =>
    act('started egress', (a) =>
      a
        .startEgress(
          room.id,
          type.value === 'rtmp' ? { type: 'rtmp', url: url.value.trim() } : { type: 'hls' },
        )
        .then((e) => e.id),
    ),
  );
  return h(
    'div',
    { className: 'stream-block' },
    h('h3', {}, 'Egress'),
    list.length ? h('ul', { className: 'streams-list' }, ...list.map(egressItem)) : null,
    h('div', { className: 'controls' }, type, url, start),
  );
}

function egressItem(e: Egress): HTMLLIElement {
  const live = !FINAL_EGRESS_STATES.includes(e.state);
  const link = e.playlistUrl ? new URL(e.playlistUrl, location.href).href : null;
  return h(
    'li',
    { dataset: { egressId: e.id, state: e.state, type: e.type } },
    h('strong', {}, e.type.toUpperCase()),
    ' ',
    h('span', { className: `state state-${e.state}` }, e.state),
    e.url ? h('div', { className: 'hint' }, e.url) : null,
    link && live
      ? h('div', {}, h('a', { href: link, target: '_blank', rel: 'noopener', className: 'hls-link' }, link))
      : null,
    e.error ? h('div', { className: 'error egress-error' }, e.error) : null,
    live
      ? h(
          'div',
          { className: 'controls' },
          link ? button('Play', e.id, () => play(e, link)) : null,
          button(
            'Stop',
            e.id,
            () => act('stopped egress', (a) => a.stopEgress(e.id).then(() => e.id)),
            'danger',
          ),
        )
      : null,
  );
}

function ingressBlock(room: RoomSummary, list: Ingress[]): HTMLElement {
  const type = drafted(
    room.id,
    'ingressType',
    h(
      'select',
      { attrs: { 'aria-label': `Ingress type for ${room.id}` } },
      h('option', { value: 'rtmp' }, 'RTMP push'),
      h('option', { value: 'url' }, 'URL pull'),
    ),
  );
  const name = drafted(
    room.id,
    'ingressName',
    h('input', { placeholder: 'display name', attrs: { 'aria-label': `Ingress name for ${room.id}` } }),
  );
  const source = drafted(
    room.id,
    'ingressUrl',
    h('input', {
      placeholder: 'rtsp://…, srt://…, https://… or a file',
      attrs: { 'aria-label': `Ingress source for ${room.id}` },
    }),
  );
  const loop = drafted(
    room.id,
    'loop',
    h('input', { type: 'checkbox', attrs: { 'aria-label': `Loop the ingress file for ${room.id}` } }),
  );
  const loopLabel = h('label', {}, loop, ' loop');
  const transport = drafted(
    room.id,
    'rtspTransport',
    h(
      'select',
      { attrs: { 'aria-label': `RTSP transport for ${room.id}` } },
      ...RTSP_TRANSPORTS.map((t) => h('option', { value: t }, `RTSP over ${t.toUpperCase()}`)),
    ),
  );
  const showUrl = () => (source.hidden = loopLabel.hidden = transport.hidden = type.value !== 'url');
  type.addEventListener('change', showUrl);
  showUrl();
  const start = button('Start ingress', room.id, () =>
    act('started ingress', (a) => {
      const displayName = name.value.trim() || (type.value === 'url' ? 'Stream' : 'RTMP');
      const url = source.value.trim();
      // The transport is an RTSP option only; the API refuses it for other sources.
      const rtspTransport =
        /^rtsps?:/i.test(url) && isOneOf(RTSP_TRANSPORTS, transport.value) ? transport.value : null;
      return a
        .startIngress(
          room.id,
          type.value === 'url'
            ? {
                type: 'url',
                displayName,
                url,
                ...(loop.checked && { loop: true }),
                ...(rtspTransport && { rtspTransport }),
              }
            : { type: 'rtmp', displayName },
        )
        .then((i) => i.id);
    }),
  );
  return h(
    'div',
    { className: 'stream-block' },
    h('h3', {}, 'Ingress'),
    list.length ? h('ul', { className: 'streams-list' }, ...list.map(ingressItem)) : null,
    h('div', { className: 'controls' }, type, name, source, transport, loopLabel, start),
  );
}

function ingressItem(i: Ingress): HTMLLIElement {
  const live = i.state !== 'ended' && i.state !== 'failed';
  return h(
    'li',
    { dataset: { ingressId: i.id, state: i.state, type: i.type } },
    h('strong', {}, i.displayName),
    ` ${i.type === 'rtmp' ? 'RTMP push' : `URL pull${i.rtspTransport ? ` (RTSP over ${i.rtspTransport.toUpperCase()})` : ''}`} `,
    h('span', { className: `state state-${i.state}` }, i.state),
    i.error ? h('div', { className: 'error ingress-error' }, i.error) : null,
    i.type === 'rtmp' && live ? pushDetails(i) : h('div', { className: 'hint' }, i.url),
    live
      ? h(
          'div',
          { className: 'controls' },
          button(
            'Stop',
            i.id,
            () => act('ended ingress', (a) => a.stopIngress(i.id).then(() => i.id)),
            'danger',
          ),
        )
      : null,
  );
}

/** OBS asks for the server and the stream key apart; ffmpeg takes the whole URL. */
function pushDetails(i: Ingress): HTMLElement {
  const cut = i.url.lastIndexOf('/');
  const field = (label: string, value: string, cls: string) =>
    h(
      'label',
      { className: 'push-field' },
      `${label} `,
      h('input', { readOnly: true, value, className: cls, attrs: { 'aria-label': `${label} of ${i.id}` } }),
    );
  return h(
    'div',
    {},
    field('Push URL', i.url, 'push-url'),
    field('Server', i.url.slice(0, cut), 'push-server'),
    field('Stream key', i.url.slice(cut + 1), 'push-key'),
  );
}

function loadHls(): Promise<typeof HlsType> {
  hlsLoading ??= new Promise((resolve, reject) => {
    const s = h('script', { src: HLS_JS_PATH });
    s.addEventListener('load', () => {
      const ctor = (window as unknown as { Hls?: typeof HlsType }).Hls;
      if (ctor) resolve(ctor);
      else reject(new Error('hls.js did not load'));
    });
    s.addEventListener('error', () => {
      hlsLoading = null;
      reject(new Error(`could not load ${HLS_JS_PATH}`));
    });
    document.head.append(s);
  });
  return hlsLoading;
}

/**
 * Plays an HLS egress with hls.js (Media Source Extensions), or natively where the browser
 * plays HLS itself and MSE is missing (Safari on iOS).
 */
async function play(e: Egress, link: string): Promise<void> {
  closePlayer();
  playerCard.hidden = false;
  const what = byId('player-what');
  what.textContent = `Room ${e.roomId} · ${e.id} · waiting for the first segment…`;
  player.dataset.egressId = e.id;
  try {
    const [Hls] = await Promise.all([loadHls(), firstPlaylist(link, e.id)]);
    if (player.dataset.egressId !== e.id) return; // closed or another one opened meanwhile
    what.textContent = `Room ${e.roomId} · ${e.id} · ${link}`;
    if (Hls.isSupported()) {
      // One segment (2 s) behind the live edge instead of hls.js's default three: 4.4–4.6 s glass
      // to glass instead of 7.1–7.3 s (bench/egress.ts --player-only, docs/egress.md).
      const instance = new Hls({ lowLatencyMode: false, liveSyncDurationCount: 1 });
      hls = instance;
      instance.on(Hls.Events.ERROR, (_event, data) => {
        if (data.fatal) playerError.textContent = `Player error: ${data.type} ${data.details}`;
      });
      instance.loadSource(link);
      instance.attachMedia(player);
      player.dataset.player = 'hls.js';
    } else if (player.canPlayType('application/vnd.apple.mpegurl')) {
      player.src = link;
      player.dataset.player = 'native';
    } else {
      playerError.textContent = 'This browser plays HLS neither with hls.js nor natively.';
      return;
    }
    // Muted autoplay is allowed everywhere; a refusal leaves the controls to the person.
    await player.play().catch(() => undefined);
  } catch (err) {
    playerError.textContent = `Player error: ${errorMessage(err)}`;
  }
}

/**
 * An egress is `active` once its encoder runs; its playlist appears with the first segment
 * (about 2 s later). hls.js gives up on a 404 playlist, so the page waits for it first.
 */
async function firstPlaylist(link: string, egressId: string): Promise<void> {
  const deadline = Date.now() + PLAYLIST_WAIT_MS;
  for (;;) {
    const res = await fetch(link, { cache: 'no-store' }).catch(() => null);
    if (res?.ok) return;
    if (Date.now() > deadline)
      throw new Error(`no playlist at ${link} (${res ? res.status : 'network error'})`);
    if (player.dataset.egressId !== egressId) return;
    await new Promise((r) => setTimeout(r, 500));
  }
}

function closePlayer(): void {
  hls?.destroy();
  hls = null;
  player.removeAttribute('src');
  player.load();
  delete player.dataset.egressId;
  delete player.dataset.player;
  playerError.textContent = '';
  playerCard.hidden = true;
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
  const lost = r.captureLosses;
  if (lost && (lost.audioDroppedSec > 0 || lost.videoFramesDropped > 0))
    stateCell.append(
      h(
        'div',
        { className: 'hint losses' },
        `the server was overloaded: ${lost.audioDroppedSec} s of sound and ${lost.videoFramesDropped} frames were not recorded`,
      ),
    );
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

function randomId(): string {
  return Math.random().toString(36).slice(2, 10);
}
