/**
 * AMF0, the value encoding of RTMP commands (connect, createStream, publish, onStatus): just the
 * types publishers (OBS, ffmpeg, hardware encoders) send and the replies need.
 */
export type Amf0Value = number | boolean | string | null | undefined | Amf0Object | Amf0Value[];
export interface Amf0Object {
  [key: string]: Amf0Value;
}

export class Amf0Error extends Error {
  override readonly name = 'Amf0Error';
}

const OBJECT_END = 0x09;

/** Decodes every value of a command message body. */
export function decodeAmf0(buf: Buffer): Amf0Value[] {
  const out: Amf0Value[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const [v, next] = readValue(buf, pos);
    out.push(v);
    pos = next;
  }
  return out;
}

function need(buf: Buffer, pos: number, n: number): void {
  if (pos + n > buf.length) throw new Amf0Error(`AMF0 value truncated at ${pos}`);
}

function readString(buf: Buffer, pos: number): [string, number] {
  need(buf, pos, 2);
  const len = buf.readUInt16BE(pos);
  need(buf, pos + 2, len);
  return [buf.toString('utf8', pos + 2, pos + 2 + len), pos + 2 + len];
}

function readProperties(buf: Buffer, pos: number): [Amf0Object, number] {
  const obj: Amf0Object = {};
  for (;;) {
    need(buf, pos, 3);
    if (buf.readUInt16BE(pos) === 0 && buf[pos + 2] === OBJECT_END) return [obj, pos + 3];
    const [key, afterKey] = readString(buf, pos);
    const [value, next] = readValue(buf, afterKey);
    obj[key] = value;
    pos = next;
  }
}

function readValue(buf: Buffer, pos: number): [Amf0Value, number] {
  need(buf, pos, 1);
  const type = buf[pos];
  pos += 1;
  switch (type) {
    case 0x00:
      need(buf, pos, 8);
      return [buf.readDoubleBE(pos), pos + 8];
    case 0x01:
      need(buf, pos, 1);
      return [buf[pos] !== 0, pos + 1];
    case 0x02:
      return readString(buf, pos);
    case 0x03:
      return readProperties(buf, pos);
    case 0x05:
      return [null, pos];
    case 0x06:
      return [undefined, pos];
    case 0x08: // ECMA array: a count (not to be trusted), then properties
      need(buf, pos, 4);
      return readProperties(buf, pos + 4);
    case 0x0a: {
      need(buf, pos, 4);
      const n = buf.readUInt32BE(pos);
      pos += 4;
      const arr: Amf0Value[] = [];
      for (let i = 0; i < n; i++) {
        const [v, next] = readValue(buf, pos);
        arr.push(v);
        pos = next;
      }
      return [arr, pos];
    }
    case 0x0b: // date: ms since epoch + time zone
      need(buf, pos, 10);
      return [buf.readDoubleBE(pos), pos + 10];
    case 0x0c: {
      need(buf, pos, 4);
      const len = buf.readUInt32BE(pos);
      need(buf, pos + 4, len);
      return [buf.toString('utf8', pos + 4, pos + 4 + len), pos + 4 + len];
    }
    default:
      throw new Amf0Error(`unsupported AMF0 type 0x${type.toString(16)} at ${pos - 1}`);
  }
}

export function encodeAmf0(...values: Amf0Value[]): Buffer {
  const parts: Buffer[] = [];
  for (const v of values) writeValue(parts, v);
  return Buffer.concat(parts);
}

function stringBody(s: string): Buffer {
  const b = Buffer.from(s, 'utf8');
  const len = Buffer.alloc(2);
  len.writeUInt16BE(b.length);
  return Buffer.concat([len, b]);
}

function writeValue(parts: Buffer[], v: Amf0Value): void {
  if (typeof v === 'number') {
    const b = Buffer.alloc(9);
    b[0] = 0x00;
    b.writeDoubleBE(v, 1);
    parts.push(b);
  } else if (typeof v === 'boolean') {
    parts.push(Buffer.from([0x01, v ? 1 : 0]));
  } else if (typeof v === 'string') {
    parts.push(Buffer.from([0x02]), stringBody(v));
  } else if (v === null) {
    parts.push(Buffer.from([0x05]));
  } else if (v === undefined) {
    parts.push(Buffer.from([0x06]));
  } else if (Array.isArray(v)) {
    const n = Buffer.alloc(5);
    n[0] = 0x0a;
    n.writeUInt32BE(v.length, 1);
    parts.push(n);
    for (const x of v) writeValue(parts, x);
  } else {
    parts.push(Buffer.from([0x03]));
    for (const [k, x] of Object.entries(v)) {
      parts.push(stringBody(k));
      writeValue(parts, x);
    }
    parts.push(Buffer.from([0, 0, OBJECT_END]));
  }
}
