/**
 * Reference-counted frame buffers for the recorder. A composed frame is copied once (the
 * compositor reuses its output buffer on the next tick), then the same buffer may be queued on
 * ffmpeg's stdin several times (duplicates) and kept as "last frame" for padding; it returns to
 * the pool when the last of those references is released. The pool never holds more buffers than
 * were in flight at once, i.e. the back-pressure limit plus one.
 */
export class FrameBufferPool {
  private readonly free: Buffer[] = [];
  private readonly refs = new Map<Buffer, number>();

  constructor(private readonly frameBytes: number) {}

  /** A buffer of frameBytes with one reference held by the caller. */
  acquire(): Buffer {
    const buf = this.free.pop() ?? Buffer.allocUnsafe(this.frameBytes);
    this.refs.set(buf, 1);
    return buf;
  }

  retain(buf: Buffer): void {
    this.refs.set(buf, (this.refs.get(buf) ?? 0) + 1);
  }

  release(buf: Buffer): void {
    const left = (this.refs.get(buf) ?? 1) - 1;
    if (left > 0) {
      this.refs.set(buf, left);
      return;
    }
    this.refs.delete(buf);
    this.free.push(buf);
  }
}
