import contentDisposition from 'content-disposition';
import type { Response } from 'express';
import { NotFoundError } from '../common/errors';

export interface RecordingFileToSend {
  /** Absolute path inside the recording's folder (ManifestStore.pathOf). */
  path: string;
  /** The manifest's content hash (lowercase hex): the file's strong validator. */
  sha256: string;
  contentType: string;
  /** The name a browser saves it under; any characters (encoded per RFC 6266). */
  downloadName: string;
  disposition: 'attachment' | 'inline';
}

/** What `send` reports: an HTTP status for conditional and range outcomes, errno codes for I/O. */
interface SendError extends Error {
  status?: number;
  code?: string;
}

/**
 * Sends a finished recording file through Express's sendFile (the `send` module): one Range →
 * 206 with Content-Range; several, a malformed one or another unit → the whole file, 200
 * (RFC 9110 lets a server ignore Range); an unsatisfiable one → 416; If-Range; If-None-Match →
 * 304; HEAD. The ETag is the manifest's sha256, given before send looks for one, so send keeps
 * it (and evaluates the conditionals against it) instead of deriving a weak one from size and
 * mtime. Resolves once the response is done; rejects only before anything was sent.
 */
export function sendRecordingFile(res: Response, file: RecordingFileToSend): Promise<void> {
  const etag = `"${file.sha256}"`;
  const validators = { ETag: etag, 'Cache-Control': 'private, max-age=0, must-revalidate' };
  // send (through `fresh`) ignores If-None-Match when the request also says Cache-Control:
  // no-cache, which fetch() adds to every conditional request; RFC 9110 (13.1.2) evaluates it
  // regardless, so this one condition is answered here.
  if (noneMatch(res.req.headers['if-none-match'], etag)) {
    res.status(304).set(validators).end();
    return Promise.resolve();
  }
  return new Promise((resolve, reject) => {
    const headers = {
      ...validators,
      'Content-Type': file.contentType,
      'Content-Disposition': dispositionOf(file),
    };
    const options = {
      headers,
      lastModified: false,
      cacheControl: false,
      // The path comes from the manifest store; RECORDINGS_DIR itself may sit under a dot-folder.
      dotfiles: 'allow' as const,
    };
    res.sendFile(file.path, options, (err?: SendError) => {
      if (!err || err.code === 'ECONNABORTED' || res.headersSent) return resolve();
      if (err.status === 416) {
        const size = /\/(\d+)$/.exec(String(res.getHeader('Content-Range') ?? ''))?.[1] ?? '?';
        res
          .status(416)
          .json({ error: 'range_not_satisfiable', message: `the range is outside the file (${size} bytes)` });
        return resolve();
      }
      if (err.code === 'ENOENT' || err.status === 404) {
        return reject(new NotFoundError(`${file.downloadName} is listed but missing from storage`));
      }
      reject(err);
    });
  });
}

/** If-None-Match against one strong ETag, with the weak comparison RFC 9110 prescribes for it. */
function noneMatch(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  if (header.trim() === '*') return true;
  return header.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag);
}

/**
 * Content-Disposition per RFC 6266: an ASCII `filename` every client reads (anything beyond
 * printable ASCII becomes `?`), plus `filename*` (RFC 8187, UTF-8) with the real name when the
 * two differ.
 */
export function dispositionOf(file: Pick<RecordingFileToSend, 'downloadName' | 'disposition'>): string {
  const fallback = file.downloadName.replace(/[^\x20-\x7e]/g, '?');
  return contentDisposition(file.downloadName, { type: file.disposition, fallback });
}
