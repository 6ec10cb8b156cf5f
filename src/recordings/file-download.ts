import type { Request, Response } from 'express';
import * as fs from 'node:fs';
import { BadRequestError } from '../common/errors';

export interface DownloadableFile {
  path: string;
  sizeBytes: number;
  /** Content hash: a strong validator for the ETag. */
  sha256: string;
  contentType: string;
  downloadName: string;
}

/**
 * Streams a finished file with HTTP caching and range semantics: ETag / If-None-Match (304),
 * a single `Range: bytes=a-b` (206 with Content-Range; 416 when unsatisfiable), and
 * Content-Disposition so browsers save it under a sensible name.
 */
export function sendFile(req: Request, res: Response, file: DownloadableFile, disposition: 'attachment' | 'inline'): void {
  const etag = `"${file.sha256}"`;
  res.setHeader('ETag', etag);
  res.setHeader('Accept-Ranges', 'bytes');
  res.setHeader('Content-Type', file.contentType);
  res.setHeader('Content-Disposition', `${disposition}; filename="${file.downloadName}"`);
  res.setHeader('Cache-Control', 'private, max-age=0, must-revalidate');
  if (req.headers['if-none-match'] === etag) {
    res.status(304).end();
    return;
  }
  const size = file.sizeBytes;
  let start = 0;
  let end = size - 1;
  const range = req.headers.range;
  const ifRange = req.headers['if-range'];
  if (range && (!ifRange || ifRange === etag)) {
    const m = /^bytes=(\d*)-(\d*)$/.exec(range.trim());
    if (!m || (m[1] === '' && m[2] === '')) throw new BadRequestError('only a single "bytes=start-end" range is supported');
    if (m[1] === '') {
      start = Math.max(0, size - Number(m[2])); // suffix range: the last N bytes
    } else {
      start = Number(m[1]);
      end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
    }
    if (start >= size || start > end) {
      res.status(416).setHeader('Content-Range', `bytes */${size}`).json({ error: 'range_not_satisfiable', message: `file has ${size} bytes` });
      return;
    }
    res.status(206).setHeader('Content-Range', `bytes ${start}-${end}/${size}`);
  } else {
    res.status(200);
  }
  res.setHeader('Content-Length', String(end - start + 1));
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  const stream = fs.createReadStream(file.path, { start, end });
  stream.on('error', () => res.destroy());
  stream.pipe(res);
}
