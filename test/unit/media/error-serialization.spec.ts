import { RemoteError, reviveError, serializeError } from '../../../workers/kernel/error-serialization';
import { ConflictError, RoomFullError } from '../../../workers/kernel/errors';
import { FfmpegError } from '../../../workers/kernel/process-control';

/** What crosses the IPC channel: JSON, so everything must survive a round trip through it. */
const acrossTheWire = (err: unknown) =>
  reviveError(JSON.parse(JSON.stringify(serializeError(err))), 'worker 7');

describe('errors across a process boundary', () => {
  it('a domain error comes back as its own class with its code and both stacks', () => {
    const original = new RoomFullError('room r is full');
    const revived = acrossTheWire(original);
    expect(revived).toBeInstanceOf(RoomFullError);
    expect(revived).toMatchObject({ name: 'RoomFullError', code: 'room_full', message: 'room r is full' });
    const [local, remote] = (revived.stack ?? '').split('--- thrown in worker 7 ---');
    expect(local).toContain('error-serialization.spec');
    expect(remote.trim()).toBe(original.stack);
  });

  it('an error of a class this side does not know keeps its name, and its code if it had one', () => {
    const revived = acrossTheWire(new FfmpegError('ffmpeg was killed by SIGKILL'));
    expect(revived).toBeInstanceOf(RemoteError);
    expect(revived).toMatchObject({ name: 'FfmpegError', message: 'ffmpeg was killed by SIGKILL' });
    expect(acrossTheWire(revived)).toMatchObject({ name: 'FfmpegError' });
    const coded = reviveError({ name: 'QuotaError', message: 'over', code: 'limit_reached' });
    expect(coded).toMatchObject({ name: 'QuotaError', code: 'limit_reached' });
  });

  it('a thrown non-error becomes a plain message', () => {
    expect(serializeError('boom')).toEqual({ name: 'Error', message: 'boom' });
    expect(serializeError(new ConflictError('busy'))).toMatchObject({
      name: 'ConflictError',
      code: 'conflict',
    });
  });
});
