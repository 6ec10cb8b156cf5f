/**
 * Reads every sender's stamp out of a received composite. Where a sender's picture lies is
 * computed exactly as the engine computes it: planLayout for the tile, ScalePlan (letterbox)
 * for the picture inside the tile. The received frame may be smaller than the canvas when the
 * server's encoder adapts its resolution, so rectangles are scaled to the received size.
 */
import type { I420Frame } from '../workers/media/engine/video/i420';
import { planLayout } from '../workers/media/engine/video/layout';
import { ScalePlan, fitCode } from '../workers/media/engine/video/scale-plan';
import { readStamp, stampAge, type PictureRect } from './stamp';

/** A stamp unchanged for this long in a tile while frames keep arriving is a frozen tile. */
const TILE_FREEZE_MS = 300;
/** Larger ages are misreads (or a stuck stamp), not latencies. */
const MAX_PLAUSIBLE_AGE_MS = 5000;

export interface CanvasPicture {
  /** Index of the sender in the room's join order. */
  sender: number;
  rect: PictureRect;
}

/** The picture rectangles of `count` senders (640x360 sources) on a canvas, in canvas pixels. */
export function senderPictures(
  participantIds: readonly string[],
  canvasWidth: number,
  canvasHeight: number,
  sourceWidth: number,
  sourceHeight: number,
): CanvasPicture[] {
  const tiles = planLayout('grid', participantIds, { width: canvasWidth, height: canvasHeight });
  return tiles.map((tile, sender) => {
    const plan = new ScalePlan(sourceWidth, sourceHeight, tile.w, tile.h, fitCode('letterbox'), 0);
    return {
      sender,
      rect: { x: tile.x + plan.offsetX, y: tile.y + plan.offsetY, w: plan.pictureW, h: plan.pictureH },
    };
  });
}

export interface ReaderCounters {
  /** Tiles we tried to read (frames x senders). */
  attempts: number;
  /** Tiles whose stamp passed validation. */
  decoded: number;
  /** Tiles whose stamp changed from the previous frame: a new sender frame reached us. */
  fresh: number;
  /** Fresh stamps per sender (join-order index): when a newcomer's picture first shows up. */
  freshBySender: number[];
  /** Ages of fresh stamps (ms): sent -> composed -> received. */
  latencies: number[];
  tileFreezes: number;
  /** Frames smaller than the canvas (the server's encoder scaled its output down). */
  downscaledFrames: number;
}

export class CompositeReader {
  counters: ReaderCounters = CompositeReader.emptyCounters();
  private readonly lastStamp: number[];
  private readonly lastChangeAt: number[];

  /**
   * `sendDelayMs[sender]`: how long after its stamp that sender's frames left (a load generator
   * that encodes once and sends to each publisher at its own phase, bench/lean-room): taken off
   * the stamp's age so latencies start where the frame was sent.
   */
  constructor(
    private readonly pictures: readonly CanvasPicture[],
    private readonly canvasWidth: number,
    private readonly canvasHeight: number,
    private readonly sendDelayMs: readonly number[] = [],
  ) {
    this.lastStamp = pictures.map(() => -1);
    this.lastChangeAt = pictures.map(() => 0);
  }

  static emptyCounters(): ReaderCounters {
    return {
      attempts: 0,
      decoded: 0,
      fresh: 0,
      freshBySender: [],
      latencies: [],
      tileFreezes: 0,
      downscaledFrames: 0,
    };
  }

  resetCounters(): void {
    this.counters = CompositeReader.emptyCounters();
  }

  read(frame: I420Frame, receivedAt: number): void {
    const c = this.counters;
    const sx = frame.width / this.canvasWidth;
    const sy = frame.height / this.canvasHeight;
    if (frame.width < this.canvasWidth) c.downscaledFrames++;
    const rect: PictureRect = { x: 0, y: 0, w: 0, h: 0 };
    for (const p of this.pictures) {
      rect.x = p.rect.x * sx;
      rect.y = p.rect.y * sy;
      rect.w = p.rect.w * sx;
      rect.h = p.rect.h * sy;
      c.attempts++;
      const stamp = readStamp(frame, rect);
      if (stamp < 0) continue;
      const age = stampAge(stamp, receivedAt);
      if (age > MAX_PLAUSIBLE_AGE_MS) continue;
      c.decoded++;
      const i = p.sender;
      if (stamp === this.lastStamp[i]) {
        if (this.lastChangeAt[i] > 0 && receivedAt - this.lastChangeAt[i] > TILE_FREEZE_MS) {
          // Count each frozen stretch once: restart the clock so it is not counted again.
          c.tileFreezes++;
          this.lastChangeAt[i] = receivedAt;
        }
        continue;
      }
      // Only the first appearance of a sender frame measures latency: a repeat (the server
      // composed again before a new frame arrived) would count waiting time twice.
      this.lastStamp[i] = stamp;
      this.lastChangeAt[i] = receivedAt;
      c.fresh++;
      c.freshBySender[i] = (c.freshBySender[i] ?? 0) + 1;
      c.latencies.push(age - (this.sendDelayMs[i] ?? 0));
    }
  }
}
