import { Controller, Get, Param, Res } from '@nestjs/common';
import { ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { Response } from 'express';
import { EGRESS_HLS_PLAYLIST } from '../../workers/protocol/media';
import { EgressService } from './egress.service';

/**
 * HLS of live egresses, public: the unguessable token in the path is the credential, so a
 * player (or a CDN in front) needs no admin key. The playlist changes every segment and must
 * be revalidated; a segment never changes once listed and may be cached for good. In a cluster
 * any node answers: the files of an egress hosted elsewhere come from that node over the bus.
 */
@ApiTags('egress')
@Controller('hls')
export class HlsController {
  constructor(private readonly egress: EgressService) {}

  @Get(':token/:file')
  @ApiOperation({ summary: "An HLS egress's playlist (index.m3u8) or segment; 404 after stop + retention" })
  @ApiProduces('application/vnd.apple.mpegurl', 'video/mp2t')
  async file(
    @Param('token') token: string,
    @Param('file') file: string,
    @Res() res: Response,
  ): Promise<void> {
    const found = await this.egress.hlsFile(token, file);
    const playlist = file === EGRESS_HLS_PLAYLIST;
    res.setHeader('Content-Type', playlist ? 'application/vnd.apple.mpegurl' : 'video/mp2t');
    res.setHeader(
      'Cache-Control',
      playlist ? 'public, max-age=1, must-revalidate' : 'public, max-age=31536000, immutable',
    );
    // Players on other origins (hls.js in a page elsewhere) fetch with CORS.
    res.setHeader('Access-Control-Allow-Origin', '*');
    if ('data' in found) {
      res.status(200).end(found.data);
      return;
    }
    const p = found.path;
    await new Promise<void>((resolve, reject) =>
      res.sendFile(p, { cacheControl: false, dotfiles: 'deny' }, (err) => (err ? reject(err) : resolve())),
    ).catch((err: NodeJS.ErrnoException) => {
      // A segment deleted from the sliding window between the check and the read.
      if (!res.headersSent) res.status(404).json({ error: 'not_found', message: 'no such HLS file' });
      else if (err.code !== 'ECONNABORTED') res.end();
    });
  }
}
