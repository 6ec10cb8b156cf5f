import { MediaSupervisor } from '../../../src/media/media-supervisor.service';
import { planLayout, type LayoutKind, type Tile } from '../../../workers/media/engine/video/layout';
import { placeholderColour } from '../../../workers/media/engine/video/placeholder';
import { meanYuvInRect, rgbToYuv, yuvDistance, type I420Frame, type Yuv } from '../../helpers/media-analysis';
import { startTestServer } from '../../helpers/server';
import { waitFor } from '../../helpers/signal';
import { TestClient } from '../../helpers/wrtc-client';

const COLOURS = [
  { r: 220, g: 30, b: 30 },
  { r: 30, g: 200, b: 40 },
  { r: 40, g: 60, b: 230 },
  { r: 230, g: 220, b: 30 },
];

/**
 * The mean colour of a patch inside a tile's top-left area: away from the edges (which blur
 * through scaling and coding) and from the centre (where a placeholder draws its initial).
 */
function tileColour(frame: I420Frame, t: Tile): Yuv {
  return meanYuvInRect(
    frame,
    Math.round(t.x + t.w * 0.1),
    Math.round(t.y + t.h * 0.1),
    Math.round(t.w * 0.2),
    Math.round(t.h * 0.2),
  );
}

function tilesMatch(
  frame: I420Frame | null,
  tiles: Tile[],
  expected: Map<string, Yuv>,
  tolerance = 28,
): boolean {
  if (!frame) return false;
  return tiles.every(
    (t) => yuvDistance(tileColour(frame, t), expected.get(t.participantId) as Yuv) <= tolerance,
  );
}

describe('compositor by content (real worker, real wrtc clients)', () => {
  let server: Awaited<ReturnType<typeof startTestServer>>;
  let supervisor: MediaSupervisor;
  const clients: TestClient[] = [];

  beforeAll(async () => {
    server = await startTestServer();
    supervisor = server.app.get(MediaSupervisor);
  });

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await server.close();
  });

  it('four participants see their colours in the grid tiles in join order, and a layout switch moves them', async () => {
    for (let i = 0; i < 4; i++) {
      clients.push(
        await TestClient.connect(server.url, {
          roomId: 'grid4',
          displayName: `P${i}`,
          colour: COLOURS[i],
          videoWidth: 320,
          videoHeight: 240,
        }),
      );
    }
    const ids = clients.map((c) => c.participantId);
    const expected = new Map(ids.map((id, i) => [id, rgbToYuv(COLOURS[i])]));
    const expectLayout = async (kind: LayoutKind, pinnedId: string | null) => {
      const tiles = planLayout(kind, ids, { width: 640, height: 360, speakerId: null, pinnedId });
      for (const c of clients) {
        await waitFor(
          () => tilesMatch(c.latestFrame, tiles, expected),
          60000,
          `${c.opts.displayName} to see the ${kind} layout`,
        );
      }
      return tiles;
    };

    const grid = await expectLayout('grid', null);
    // 2x2 grid, row-major in join order.
    expect(grid.map((t) => [t.x < 320, t.y < 180])).toEqual([
      [true, true],
      [false, true],
      [true, false],
      [false, false],
    ]);

    await supervisor.get('grid4')?.request('room.update', { layout: 'pinned', pinnedParticipantId: ids[2] });
    const pinned = await expectLayout('pinned', ids[2]);
    const big = pinned.find((t) => t.participantId === ids[2]) as Tile;
    expect(big.w * big.h).toBeGreaterThan(640 * 360 * 0.4);
  });

  it('an audio-only participant gets a placeholder tile and a viewer gets the picture without appearing in it', async () => {
    const cam = await TestClient.connect(server.url, {
      roomId: 'ph',
      displayName: 'Cam',
      colour: COLOURS[0],
    });
    const voice = await TestClient.connect(server.url, { roomId: 'ph', displayName: 'Voice', toneHz: 500 });
    const viewer = await TestClient.connect(server.url, {
      roomId: 'ph',
      displayName: 'Viewer',
      role: 'viewer',
    });
    clients.push(cam, voice, viewer);
    const ids = [cam.participantId, voice.participantId];
    const tiles = planLayout('grid', ids, { width: 640, height: 360, speakerId: null, pinnedId: null });
    const expected = new Map([
      [cam.participantId, rgbToYuv(COLOURS[0])],
      [voice.participantId, placeholderColour(voice.participantId)],
    ]);
    for (const c of [cam, voice, viewer]) {
      await waitFor(
        () => tilesMatch(c.latestFrame, tiles, expected),
        60000,
        `${c.opts.displayName} to see camera + placeholder`,
      );
    }
    expect(viewer.pc.getSenders().filter((s) => s.track)).toHaveLength(0);
  });

  it('an input that changes resolution mid-call keeps its tile, and a stalled input turns into its placeholder', async () => {
    const a = await TestClient.connect(server.url, {
      roomId: 'resize',
      displayName: 'A',
      colour: COLOURS[1],
      videoWidth: 640,
      videoHeight: 480,
    });
    const b = await TestClient.connect(server.url, {
      roomId: 'resize',
      displayName: 'B',
      colour: COLOURS[2],
    });
    clients.push(a, b);
    const tiles = planLayout('grid', [a.participantId, b.participantId], {
      width: 640,
      height: 360,
      speakerId: null,
      pinnedId: null,
    });
    const expected = new Map([
      [a.participantId, rgbToYuv(COLOURS[1])],
      [b.participantId, rgbToYuv(COLOURS[2])],
    ]);
    await waitFor(() => tilesMatch(b.latestFrame, tiles, expected), 60000, 'both tiles');
    a.setVideoSize(320, 240);
    await new Promise((r) => setTimeout(r, 1500));
    a.setVideoSize(97, 55); // odd sizes too
    await new Promise((r) => setTimeout(r, 1500));
    await waitFor(
      () => tilesMatch(b.latestFrame, tiles, expected),
      30000,
      'tiles after the resolution change',
    );

    a.pauseVideo(true);
    const withPlaceholder = new Map(expected).set(a.participantId, placeholderColour(a.participantId));
    await waitFor(
      () => tilesMatch(b.latestFrame, tiles, withPlaceholder),
      30000,
      'placeholder for the stalled input',
    );
    a.pauseVideo(false);
    await waitFor(() => tilesMatch(b.latestFrame, tiles, expected), 30000, 'picture back after the stall');
  });
});
