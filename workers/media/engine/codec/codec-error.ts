/** A codec refused its options or failed on a frame (message from libvpx/x264/libavcodec/libopus). */
export class CodecError extends Error {
  override readonly name = 'CodecError';
}
