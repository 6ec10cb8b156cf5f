import { BadRequestError, UnprocessableError } from '../../../src/common/errors';
import { parseOrThrow } from '../../../src/common/zod-validation.pipe';
import { createRoomSchema, createTokenSchema } from '../../../src/rooms/rooms.schemas';
import { sdpSendsMedia } from '../../../src/signaling/sdp-direction';

describe('request validation', () => {
  it('a wrong type, a missing field or an unknown field is a 400', () => {
    expect(() => parseOrThrow(createRoomSchema, undefined)).toThrow(BadRequestError);
    expect(() => parseOrThrow(createRoomSchema, { name: 5 })).toThrow(BadRequestError);
    expect(() => parseOrThrow(createRoomSchema, { colour: 'red' })).toThrow(BadRequestError);
    expect(() => parseOrThrow(createTokenSchema, {})).toThrow(BadRequestError);
  });

  it('a well-typed value that is not allowed is a 422 naming the field', () => {
    expect(() => parseOrThrow(createRoomSchema, { layout: 'mosaic' })).toThrow(UnprocessableError);
    expect(() => parseOrThrow(createRoomSchema, { maxParticipants: 0 })).toThrow(/maxParticipants/);
    expect(() => parseOrThrow(createRoomSchema, { id: '../x' })).toThrow(UnprocessableError);
    expect(() => parseOrThrow(createRoomSchema, { metadata: { big: 'x'.repeat(20000) } })).toThrow(
      /16384 bytes/,
    );
  });

  it('a valid body comes back parsed with its defaults', () => {
    expect(parseOrThrow(createTokenSchema, { identity: ' bob ' })).toEqual({
      identity: 'bob',
      role: 'publisher',
    });
  });
});

describe('whether an SDP publishes media', () => {
  const sdp = (audio: string, video: string) =>
    `v=0\r\no=- 1 2 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n${audio}m=video 9 UDP/TLS/RTP/SAVPF 96\r\n${video}`;

  it('recvonly sections do not publish', () => {
    expect(sdpSendsMedia(sdp('a=recvonly\r\n', 'a=recvonly\r\n'))).toBe(false);
  });

  it('a sendrecv section with a track publishes', () => {
    expect(sdpSendsMedia(sdp('a=recvonly\r\n', 'a=sendrecv\r\na=msid:s t\r\n'))).toBe(true);
    expect(sdpSendsMedia(sdp('a=sendonly\r\na=ssrc:1 cname:x\r\n', 'a=recvonly\r\n'))).toBe(true);
  });

  it('a sendrecv section without a track does not publish', () => {
    expect(sdpSendsMedia(sdp('a=sendrecv\r\n', 'a=sendrecv\r\n'))).toBe(false);
  });
});
