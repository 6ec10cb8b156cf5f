/**
 * Webhook events and their `data`, typed once for the publisher (rooms, recordings) and for
 * receivers (docs/api.md). A delivery's body is a WebhookEnvelope serialised as JSON.
 */
export interface WebhookEventMap {
  'room.started': { roomId: string };
  'room.ended': { roomId: string; reason: 'empty' | 'deleted' | 'media-worker-died' | 'server-shutdown' };
  'participant.joined': {
    roomId: string;
    participantId: string;
    identity: string;
    displayName: string;
    role: 'publisher' | 'viewer';
  };
  'participant.left': {
    roomId: string;
    participantId: string;
    identity: string;
    reason: 'left' | 'disconnected' | 'kicked' | 'replaced' | 'room-ended';
  };
  'recording.started': { roomId: string; recordingId: string };
  'recording.ended': { roomId: string; recordingId: string; interrupted: boolean; reason?: string };
  'recording.ready': { roomId: string; recordingId: string; state: 'ready' | 'interrupted' };
  'recording.failed': { roomId: string; recordingId: string; reason: string };
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
