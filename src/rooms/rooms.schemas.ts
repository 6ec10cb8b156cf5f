import { z } from 'zod';
import {
  CLIENT_ROLES,
  DOWNLINK_CHANGE_REASONS,
  DOWNLINK_PROFILES,
  FITS,
  LAYOUTS,
  MEDIA_KINDS,
  PROFILES,
  ROLES,
  UPLINK_STATES,
} from '../../workers/protocol/media';

/**
 * Request and response shapes of the rooms API, as zod schemas: the same object validates a
 * request, types the code (z.infer) and documents the endpoint (openApiSchema).
 */
export const ROOM_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
const MAX_METADATA_BYTES = 16 * 1024;

const layout = z.enum(LAYOUTS);
const fit = z.enum(FITS);
const profile = z.enum(PROFILES);
const role = z.enum(ROLES);
/** Tokens are for clients: an ingress participant joins through /api/rooms/:id/ingress only. */
const clientRole = z.enum(CLIENT_ROLES);
const metadata = z
  .record(z.string(), z.unknown())
  .refine((m) => Buffer.byteLength(JSON.stringify(m)) <= MAX_METADATA_BYTES, {
    message: `must be at most ${MAX_METADATA_BYTES} bytes as JSON`,
  });

export const createRoomSchema = z.strictObject({
  id: z.string().regex(ROOM_ID_PATTERN, 'must be 1-64 characters of A-Z a-z 0-9 _ -').optional(),
  name: z.string().trim().min(1).max(200).optional(),
  layout: layout.optional(),
  fit: fit.optional(),
  defaultProfile: profile.optional(),
  maxParticipants: z.number().int().min(1).max(64).optional(),
  autoRecord: z.boolean().optional(),
  metadata: metadata.optional(),
});
export type CreateRoomBody = z.infer<typeof createRoomSchema>;

export const updateRoomSchema = z
  .strictObject({
    name: z.string().trim().min(1).max(200).optional(),
    layout: layout.optional(),
    fit: fit.optional(),
    pinnedParticipantId: z.string().min(1).max(64).nullable().optional(),
    autoRecord: z.boolean().optional(),
    metadata: metadata.optional(),
  })
  .refine((b) => Object.keys(b).length > 0, { message: 'nothing to update' });
export type UpdateRoomBody = z.infer<typeof updateRoomSchema>;

export const createTokenSchema = z.strictObject({
  identity: z.string().trim().min(1).max(128),
  displayName: z.string().trim().min(1).max(64).optional(),
  role: clientRole.default('publisher'),
  /** At most a day: join tokens are meant to be short-lived. */
  ttlSeconds: z.number().int().min(10).max(86400).optional(),
});
export type CreateTokenBody = z.infer<typeof createTokenSchema>;

export const muteSchema = z.strictObject({ kind: z.enum(MEDIA_KINDS) });
export type MuteBody = z.infer<typeof muteSchema>;

export const roomSchema = z.object({
  id: z.string(),
  name: z.string(),
  layout,
  fit,
  pinnedParticipantId: z.string().nullable(),
  defaultProfile: profile,
  maxParticipants: z.number().int(),
  autoRecord: z.boolean(),
  metadata: z.record(z.string(), z.unknown()),
  createdAt: z.string(),
  updatedAt: z.string(),
});
/** A room's configuration: what is kept in Redis and survives a restart. */
export type Room = z.infer<typeof roomSchema>;

export const participantSchema = z.object({
  participantId: z.string(),
  identity: z.string(),
  displayName: z.string(),
  role,
  profile,
  audioMuted: z.boolean(),
  videoMuted: z.boolean(),
  joinedAt: z.string(),
  /** What its downlink serves now, once the server said anything (adaptive downlink, data saver). */
  downlink: z
    .object({
      profile: z.enum(DOWNLINK_PROFILES),
      requested: z.enum(DOWNLINK_PROFILES),
      pinned: z.boolean(),
      reason: z.enum(DOWNLINK_CHANGE_REASONS),
    })
    .optional(),
  /** What arrives of its video (updated every 5 s while it sends): a weak uplink is `weak`. */
  uplink: z
    .object({
      state: z.enum(UPLINK_STATES),
      kbps: z.number(),
      fps: z.number(),
      width: z.number().int(),
      height: z.number().int(),
      lossPct: z.number(),
    })
    .optional(),
});
export type ParticipantInfo = z.infer<typeof participantSchema>;

export const roomSummarySchema = roomSchema.extend({
  active: z.boolean(),
  participantCount: z.number().int(),
});
export type RoomSummary = z.infer<typeof roomSummarySchema>;
export const roomDetailSchema = roomSchema.extend({
  active: z.boolean(),
  activeSpeakerId: z.string().nullable(),
  participants: z.array(participantSchema),
  /** The node hosting the live room (its NODE_ID), null while the room is idle. */
  node: z.string().nullable(),
});
export type RoomDetail = z.infer<typeof roomDetailSchema>;

export const tokenSchema = z.object({
  token: z.string(),
  roomId: z.string(),
  identity: z.string(),
  displayName: z.string(),
  role: clientRole,
  expiresAt: z.string(),
});

export const errorSchema = z.object({ error: z.string(), message: z.string() });
