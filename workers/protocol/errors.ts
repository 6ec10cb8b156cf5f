/**
 * The error vocabulary of the wire: the stable codes a caller sees (REST `error` field, socket
 * error `code`, worker responses) and the shape an error has while it crosses a process
 * boundary. Types and constants only; the classes live in workers/kernel/errors.ts.
 */

export const ERROR_CODES = [
  'bad_request',
  'invalid_sdp',
  'invalid_candidate',
  'unauthorized',
  'forbidden',
  'not_found',
  'conflict',
  'room_full',
  'limit_reached',
  'payload_too_large',
  'unsupported_media_type',
  'unprocessable',
  'rate_limited',
  /** The node cannot carry another participant now (admission control); retry later or elsewhere. */
  'server_busy',
  'unavailable',
  /** The node is draining: it starts no new room (join through another node, or later). */
  'node_draining',
  'insufficient_storage',
  'timeout',
  'worker_closed',
  'internal',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

/** An error as plain data: `name` picks the class again on the other side, `stack` is the remote one. */
export interface SerializedError {
  name: string;
  message: string;
  code?: string;
  stack?: string;
}
