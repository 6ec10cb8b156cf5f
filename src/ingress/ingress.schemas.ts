import { z } from 'zod';
import { INGRESS_STATES } from '../../workers/protocol/cluster';
import { RTSP_TRANSPORTS } from '../../workers/protocol/media';

export const INGRESS_ID_PATTERN = /^in_[A-Za-z0-9_-]{12}$/;
export const ingressIdSchema = z.string().regex(INGRESS_ID_PATTERN, 'not an ingress id');

export { INGRESS_STATES };

const displayName = z.string().trim().min(1).max(64);
/** Sources ffmpeg pulls; a value without a scheme is a file under INGRESS_FILES_DIR. */
export const PULL_SCHEMES = ['rtsp:', 'rtsps:', 'srt:', 'http:', 'https:'] as const;

export const startIngressSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('rtmp'), displayName }).strict(),
  z
    .object({
      type: z.literal('url'),
      displayName,
      /** rtsp://, srt://, http(s):// (MP4, HLS), or a path relative to INGRESS_FILES_DIR. */
      url: z.string().min(1).max(2048),
      /** Files (and HTTP files): play again from the start when they end. */
      loop: z.boolean().optional(),
      /** rtsp(s):// only: RTP interleaved in the RTSP TCP connection (default) or over UDP. */
      rtspTransport: z.enum(RTSP_TRANSPORTS).optional(),
    })
    .strict(),
]);
export type StartIngressBody = z.infer<typeof startIngressSchema>;

export const listIngressSchema = z.object({ roomId: z.string().max(64).optional() }).strict();
export type ListIngressQuery = z.infer<typeof listIngressSchema>;

export const ingressSchema = z.object({
  id: z.string(),
  roomId: z.string(),
  type: z.enum(['rtmp', 'url']),
  displayName: z.string(),
  /** The room participant that shows this stream (role `ingress`). */
  participantId: z.string(),
  /**
   * rtmp: where to push, rtmp://HOST:RTMP_PORT/live/<stream key> (OBS: server …/live, key the
   * rest); url: the source pulled (a file as given, relative to INGRESS_FILES_DIR).
   */
  url: z.string(),
  loop: z.boolean().optional(),
  rtspTransport: z.enum(RTSP_TRANSPORTS).optional(),
  /**
   * waiting: nobody pushes; publishing: a publisher is connected (pull: pulling); ended; failed:
   * lost with the cluster node that hosted its room (`error` says why).
   */
  state: z.enum(INGRESS_STATES),
  error: z.string().optional(),
  createdAt: z.string(),
});
export type IngressView = z.infer<typeof ingressSchema>;
