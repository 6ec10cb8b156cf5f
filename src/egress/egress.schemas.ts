import { z } from 'zod';
import {
  EGRESS_RTMP_SCHEMES,
  EGRESS_STATES,
  EGRESS_TYPES,
  LAYOUTS,
  PROFILES,
} from '../../workers/protocol/media';

export const EGRESS_ID_PATTERN = /^eg_[A-Za-z0-9_-]{12}$/;
export const egressIdSchema = z.string().regex(EGRESS_ID_PATTERN, 'not an egress id');

/** An rtmp:// or rtmps:// URL with a host; anything else is refused before ffmpeg sees it. */
const rtmpUrl = z
  .string()
  .max(2048)
  .refine((v) => {
    try {
      const u = new URL(v);
      return (EGRESS_RTMP_SCHEMES as readonly string[]).includes(u.protocol) && u.hostname !== '';
    } catch {
      return false;
    }
  }, 'must be an rtmp:// or rtmps:// URL with a host');

const common = {
  /** Default: RECORDING_PROFILE. */
  profile: z.enum(PROFILES).optional(),
  /** Default: the room's layout (and its changes). */
  layout: z.enum(LAYOUTS).optional(),
};

export const startEgressSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('rtmp'), url: rtmpUrl, ...common }).strict(),
  z.object({ type: z.literal('hls'), ...common }).strict(),
]);
export type StartEgressBody = z.infer<typeof startEgressSchema>;

export const listEgressSchema = z.object({ roomId: z.string().max(64).optional() }).strict();
export type ListEgressQuery = z.infer<typeof listEgressSchema>;

export const egressSchema = z.object({
  id: z.string(),
  roomId: z.string(),
  type: z.enum(EGRESS_TYPES),
  state: z.enum(EGRESS_STATES),
  profile: z.enum(PROFILES),
  layout: z.enum(LAYOUTS).nullable(),
  /** RTMP: the target (it holds the stream key: admin only). */
  url: z.string().optional(),
  /** HLS: the playlist's path on this server, playable without the admin key. */
  playlistUrl: z.string().optional(),
  error: z.string().nullable(),
  createdAt: z.string(),
  endedAt: z.string().nullable(),
});
export type EgressView = z.infer<typeof egressSchema>;

/** The unguessable part of an HLS path and the files a playlist refers to. */
export const HLS_TOKEN_PATTERN = /^[A-Za-z0-9_-]{32}$/;
export const HLS_FILE_PATTERN = /^(index\.m3u8|seg-\d{5,}\.ts)$/;
