/**
 * Webhook events and their `data`, typed once for the publisher (rooms, recordings) and for
 * receivers (docs/api.md). A delivery's body is a WebhookEnvelope serialised as JSON.
 */
import type { EgressState, EgressType, ParticipantRole } from '../../workers/protocol/media';
import type { LeftReason, RoomEndReason } from '../../workers/protocol/signaling';
import type { CaptureLosses } from '../../workers/protocol/recording';

export interface WebhookEventMap {
  'room.started': { roomId: string };
  'room.ended': { roomId: string; reason: 'empty' | RoomEndReason };
  'participant.joined': {
    roomId: string;
    participantId: string;
    identity: string;
    displayName: string;
    role: ParticipantRole;
  };
  'participant.left': {
    roomId: string;
    participantId: string;
    identity: string;
    reason: LeftReason;
  };
  'recording.started': { roomId: string; recordingId: string };
  'recording.ended': {
    roomId: string;
    recordingId: string;
    interrupted: boolean;
    reason?: string;
    /** What the capture could not keep (an overloaded node); absent when not known. */
    captureLosses?: CaptureLosses;
  };
  'recording.ready': { roomId: string; recordingId: string; state: 'ready' | 'interrupted' };
  'recording.failed': { roomId: string; recordingId: string; reason: string };
  /** Every state change of a live egress (docs/egress.md); `error` is set for failed/reconnecting. */
  'egress.updated': {
    roomId: string;
    egressId: string;
    type: EgressType;
    state: EgressState;
    error: string | null;
  };
}

export type WebhookEvent = keyof WebhookEventMap;

export interface WebhookEnvelope<E extends WebhookEvent = WebhookEvent> {
  /** Unique per event; the same on every retry and for every URL, so receivers can de-duplicate. */
  id: string;
  event: E;
  /** ISO 8601, when the event happened. */
  createdAt: string;
  data: WebhookEventMap[E];
}

/** One queued delivery: one event to one URL. */
export interface WebhookJobData {
  url: string;
  event: WebhookEvent;
  deliveryId: string;
  /** The exact bytes that are signed and sent. */
  body: string;
}

export const WEBHOOK_QUEUE = 'webhooks';
export const SIGNATURE_HEADER = 'X-MCU-Signature';
export const EVENT_HEADER = 'X-MCU-Event';
export const DELIVERY_HEADER = 'X-MCU-Delivery';
