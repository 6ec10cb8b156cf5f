/**
 * The join page (public/index.html): pick a room and a join token (or open a link carrying
 * them), open camera and microphone, and play the one mixed video with its sound.
 *
 * Links: `/?room=<roomId>#token=<token>&profile=low`. Every field may be in the query or the
 * fragment; the fragment is preferred for the token because browsers never send it to the
 * server (no token in access logs or Referer headers).
 *
 * For tools and tests the page exposes `window.__mcu` (read-only; see docs/browsers.md):
 *   stats() → { state, participantId, framesDecoded, frameWidth, frameHeight, audioLevel,
 *               audioEnergy, connectionState }
 * and mirrors the call state in `document.body.dataset.state`.
 */
import { AudioMeter } from './audio-meter';
import { CallSession, type CallState } from './call';
import { byId, capitalize, errorMessage, h } from './dom';
import { SignalingError, type ProfileChangedEvent, type UplinkQualityEvent } from './protocol';
import {
  isOneOf,
  OUTPUT_PROFILES,
  PROFILES,
  type MediaKind,
  type Profile,
} from '../../workers/protocol/media';

const DEFAULT_PROFILE: Profile = 'standard';

const form = byId<HTMLFormElement>('join-form');
const roomInput = byId<HTMLInputElement>('room');
const tokenInput = byId<HTMLInputElement>('token');
const joinProfile = byId<HTMLSelectElement>('join-profile');
const joinButton = byId<HTMLButtonElement>('join');
const joinError = byId('join-error');
const callSection = byId('call');
const roomTitle = byId('room-title');
const remoteVideo = byId<HTMLVideoElement>('remote');
const selfVideo = byId<HTMLVideoElement>('self');
const micButton = byId<HTMLButtonElement>('mic');
const camButton = byId<HTMLButtonElement>('cam');
const callProfile = byId<HTMLSelectElement>('call-profile');
const pinProfile = byId<HTMLInputElement>('pin-profile');
const dataSaver = byId<HTMLInputElement>('data-saver');
const downlinkLine = byId('downlink');
const uplinkLine = byId('uplink');
const stage = byId('stage');
const leaveButton = byId<HTMLButtonElement>('leave');
const playButton = byId<HTMLButtonElement>('play');
const statusLine = byId('status');
const recordingBadge = byId('recording-badge');
const levelMeter = byId<HTMLMeterElement>('incoming-level');
const roster = byId<HTMLUListElement>('participants');

let session: CallSession | null = null;
let meter: AudioMeter | null = null;
let local: MediaStream | null = null;

for (const p of PROFILES) {
  const { width, height } = OUTPUT_PROFILES[p];
  joinProfile.append(
    h('option', { value: p, selected: p === DEFAULT_PROFILE }, `${capitalize(p)} (${width}×${height})`),
  );
  callProfile.append(h('option', { value: p }, capitalize(p)));
}
prefillFromLink();
form.addEventListener('submit', (e) => {
  e.preventDefault();
  void join();
});
micButton.addEventListener('click', () => toggleMute('audio'));
camButton.addEventListener('click', () => toggleMute('video'));
leaveButton.addEventListener('click', () => void leave());
playButton.addEventListener('click', playRemote);
callProfile.addEventListener('change', () => {
  if (isOneOf(PROFILES, callProfile.value)) void switchProfile(callProfile.value);
});
dataSaver.addEventListener('change', () => void changeDownlink({ dataSaver: dataSaver.checked }));
pinProfile.addEventListener('change', () => void changeDownlink({ pinned: pinProfile.checked }));
setBodyState('idle');

(window as unknown as { __mcu: unknown }).__mcu = {
  async stats() {
    const video = session
      ? await session.receiveStats()
      : { framesDecoded: 0, frameWidth: 0, frameHeight: 0 };
    return {
      state: session?.state ?? 'idle',
      participantId: session?.selfId ?? null,
      ...video,
      audioLevel: meter?.level ?? 0,
      audioEnergy: meter?.energy ?? 0,
      connectionState: session?.connectionState ?? 'new',
      // The last profile-changed: what this page receives now and why.
      downlink: session?.downlink ?? null,
      // The server's last uplink-quality and the camera width this page sends now.
      uplink: session?.uplink ?? null,
      sendWidth: session?.sendWidth ?? 0,
    };
  },
};

function prefillFromLink(): void {
  const query = new URLSearchParams(location.search);
  const hash = new URLSearchParams(location.hash.slice(1));
  const get = (k: string) => hash.get(k) ?? query.get(k) ?? '';
  roomInput.value = get('room');
  tokenInput.value = get('token');
  const profile = get('profile');
  if (isOneOf(PROFILES, profile)) joinProfile.value = profile;
  if (roomInput.value && tokenInput.value) joinButton.focus();
}

async function join(): Promise<void> {
  joinError.textContent = '';
  joinButton.disabled = true;
  // Created inside the click so that browsers let it (and the <video> sound) start.
  const audioContext = new AudioContext();
  void audioContext.resume();
  try {
    const chosen = joinProfile.value;
    const profile = isOneOf(PROFILES, chosen) ? chosen : DEFAULT_PROFILE;
    local = await openDevices(profile);
    selfVideo.srcObject = local;
    session = new CallSession({
      roomId: roomInput.value.trim(),
      token: tokenInput.value.trim(),
      profile,
      local,
    });
    meter = new AudioMeter(audioContext);
    remoteVideo.srcObject = session.remoteStream;
    session.on('remote-track', () => {
      meter?.follow(session!.remoteStream);
      playRemote();
    });
    session.on('state', onState);
    session.on('roster', renderRoster);
    session.on('server-mute', () => renderMuteButtons());
    session.on('layout-changed', (layout) => (statusLine.textContent = `layout: ${layout}`));
    session.on(
      'quality-changed',
      (d) => (statusLine.textContent = `the server is busy: video now ${d.profile} at ${d.fps} fps`),
    );
    session.on('profile-changed', renderDownlink);
    session.on('send-limits', renderUplink);
    // People should know when they are being recorded.
    session.on('recording', (state) => (recordingBadge.hidden = state !== 'recording'));
    callProfile.value = profile;
    showCall(true);
    renderMuteButtons();
    await session.start();
  } catch (err) {
    void audioContext.close().catch(() => undefined);
    endCall();
    joinError.textContent =
      err instanceof SignalingError && err.code === 'server_busy'
        ? `The server is full right now: ${err.message}`
        : `Could not join: ${errorMessage(err)}`;
  } finally {
    joinButton.disabled = false;
  }
}

/**
 * Camera size follows the chosen profile: the server composes the camera into a tile of at most
 * the profile's size, so sending more only spends upload bandwidth and CPU.
 */
const CAMERA: Record<Profile, MediaTrackConstraints> = {
  low: { width: { ideal: 320 }, height: { ideal: 180 }, frameRate: { ideal: 15 } },
  standard: { width: { ideal: 640 }, height: { ideal: 360 }, frameRate: { ideal: 15 } },
  high: { width: { ideal: 1280 }, height: { ideal: 720 }, frameRate: { ideal: 30 } },
};

/** Camera and microphone; falls back to whichever one exists, or to receive-only. */
async function openDevices(profile: Profile): Promise<MediaStream> {
  const video = CAMERA[profile];
  for (const constraints of [{ audio: true, video }, { audio: true }, { video }]) {
    try {
      return await navigator.mediaDevices.getUserMedia(constraints);
    } catch (err) {
      // Permission refused: asking for less will not help.
      if ((err as DOMException).name === 'NotAllowedError')
        throw new Error('camera and microphone were not allowed');
    }
  }
  return new MediaStream();
}

/**
 * Starts the call's picture and sound. Browsers may refuse sound without a recent click (Safari
 * when the page is not capturing, Firefox by preference); then a "Play sound" button asks for one.
 */
function playRemote(): void {
  remoteVideo.play().then(
    () => (playButton.hidden = true),
    // Other rejections (AbortError when a new track interrupts loading) resolve themselves.
    (err: DOMException) => (playButton.hidden = err.name !== 'NotAllowedError'),
  );
}

function toggleMute(kind: MediaKind): void {
  if (!session) return;
  session.setMuted(kind, !session.isMuted(kind));
  renderMuteButtons();
}

async function switchProfile(profile: Profile): Promise<void> {
  if (!session) return;
  callProfile.disabled = true;
  try {
    await session.setProfile(profile);
    for (const t of local?.getVideoTracks() ?? [])
      void t.applyConstraints(CAMERA[profile]).catch(() => undefined);
    statusLine.textContent = `quality: ${profile}`;
  } catch (err) {
    callProfile.value = session.profile;
    statusLine.textContent = `could not change quality: ${errorMessage(err)}`;
  } finally {
    callProfile.disabled = false;
  }
}

/** The data saver and the pin: a new request to the server, which answers with profile-changed. */
async function changeDownlink(d: { dataSaver?: boolean; pinned?: boolean }): Promise<void> {
  if (!session) return;
  dataSaver.disabled = pinProfile.disabled = true;
  try {
    await session.setDownlink(d);
  } catch (err) {
    statusLine.textContent = `could not change what you receive: ${errorMessage(err)}`;
  } finally {
    dataSaver.checked = session.dataSaver;
    pinProfile.checked = session.pinned;
    dataSaver.disabled = pinProfile.disabled = false;
  }
}

const WHY: Record<ProfileChangedEvent['reason'], string> = {
  bandwidth: 'your connection',
  client: 'your choice',
  'server-load': 'the server is busy',
};

/** "Receiving: Low (320×180) — your connection cannot carry Standard". */
function renderDownlink(d: ProfileChangedEvent): void {
  stage.dataset.downlink = d.profile;
  const what = (p: ProfileChangedEvent['profile']) =>
    p === 'audio'
      ? 'audio only'
      : `${capitalize(p)} (${OUTPUT_PROFILES[p].width}×${OUTPUT_PROFILES[p].height})`;
  let text = `Receiving: ${what(d.profile)}`;
  if (d.profile !== d.requested) {
    const asked = what(d.requested);
    text +=
      d.reason === 'bandwidth'
        ? ` — your connection cannot carry ${asked} right now`
        : d.reason === 'server-load'
          ? ` — the server is busy (you asked for ${asked})`
          : '';
  } else if (d.reason !== 'client') text += ` — back to what you asked for (${WHY[d.reason]})`;
  if (d.pinned) text += ' · kept whatever the connection';
  downlinkLine.textContent = text;
}

function renderUplink(width: number, uplink: UplinkQualityEvent | null): void {
  stage.dataset.uplink = uplink?.state ?? 'good';
  let text = `Sending: ${width} px wide`;
  if (uplink?.state === 'weak')
    text +=
      ` — your connection is weak (the server receives ${uplink.fps} fps, ${uplink.lossPct} % lost),` +
      ' sending a smaller picture';
  uplinkLine.textContent = text;
}

async function leave(): Promise<void> {
  await session?.leave();
  endCall();
}

function endCall(): void {
  meter?.close();
  meter = null;
  for (const t of local?.getTracks() ?? []) t.stop();
  local = null;
  session = null;
  remoteVideo.srcObject = null;
  selfVideo.srcObject = null;
  playButton.hidden = true;
  recordingBadge.hidden = true;
  downlinkLine.textContent = '';
  delete stage.dataset.downlink;
  uplinkLine.textContent = '';
  delete stage.dataset.uplink;
  dataSaver.checked = pinProfile.checked = false;
  showCall(false);
}

function onState(state: CallState, message: string): void {
  setBodyState(state);
  statusLine.textContent = message;
  if (state === 'failed') {
    const why = message;
    endCall();
    joinError.textContent = why;
  }
}

function showCall(inCall: boolean): void {
  form.hidden = inCall;
  callSection.hidden = !inCall;
  // Move focus to the call's heading so that screen readers announce the room.
  if (inCall) roomTitle.focus();
  if (!inCall) roster.replaceChildren();
}

function renderMuteButtons(): void {
  if (!session) return;
  for (const [button, kind, noun] of [
    [micButton, 'audio', 'microphone'],
    [camButton, 'video', 'camera'],
  ] as const) {
    const muted = session.isMuted(kind);
    const byHost = session.serverMuted[kind];
    button.setAttribute('aria-pressed', String(muted));
    // The host's mute is enforced by the server; the button still controls what we send.
    button.textContent = `${muted ? 'Unmute' : 'Mute'} ${noun}${byHost ? ' (muted by host)' : ''}`;
    button.classList.toggle('server-muted', byHost);
  }
}

function renderRoster(): void {
  if (!session) return;
  roomTitle.textContent = session.roomName || roomInput.value;
  const items = [...session.participants.values()].map((p) => {
    const speaking = p.participantId === session?.activeSpeakerId;
    const flags = [
      p.participantId === session?.selfId ? 'you' : '',
      p.role === 'viewer' ? 'viewer' : '',
      p.audioMuted ? 'mic muted by host' : '',
      p.videoMuted ? 'camera off by host' : '',
    ].filter(Boolean);
    return h(
      'li',
      { dataset: { participantId: p.participantId, speaking: String(speaking) } },
      h('span', { className: 'name' }, p.displayName),
      flags.length ? h('span', { className: 'flags' }, ` (${flags.join(', ')})`) : null,
      speaking ? h('span', { className: 'speaking-label' }, ' speaking') : null,
    );
  });
  roster.replaceChildren(...items);
}

function setBodyState(state: CallState | 'idle'): void {
  document.body.dataset.state = state;
}

// The level meter follows the received sound a few times a second, on a -60..0 dBFS scale
// (a linear scale leaves ordinary speech near zero).
setInterval(() => {
  const level = meter?.level ?? 0;
  levelMeter.value = level > 0 ? Math.max(0, 1 + (20 * Math.log10(level)) / 60) : 0;
}, 200);
