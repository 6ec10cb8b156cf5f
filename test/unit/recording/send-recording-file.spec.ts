import { dispositionOf } from '../../../src/recordings/send-recording-file';

describe('the Content-Disposition of a download (RFC 6266)', () => {
  it('is a plain quoted file name for an ASCII name', () => {
    expect(dispositionOf({ downloadName: 'rec_abc123.mp4', disposition: 'attachment' })).toBe(
      'attachment; filename="rec_abc123.mp4"',
    );
    expect(dispositionOf({ downloadName: 'rec_abc123.jpg', disposition: 'inline' })).toBe(
      'inline; filename="rec_abc123.jpg"',
    );
  });

  it('adds a UTF-8 filename* beside an ASCII fallback, and never lets a quote or newline through', () => {
    expect(dispositionOf({ downloadName: 'Réunion 1 — 东京.mp4', disposition: 'attachment' })).toBe(
      `attachment; filename="R?union 1 ? ??.mp4"; filename*=UTF-8''R%C3%A9union%201%20%E2%80%94%20%E4%B8%9C%E4%BA%AC.mp4`,
    );
    const header = dispositionOf({ downloadName: 'a"b\r\nSet-Cookie: x.mp4', disposition: 'attachment' });
    expect(header).not.toMatch(/[\r\n]/);
    expect(header.startsWith('attachment; filename="a\\"b')).toBe(true);
  });
});
