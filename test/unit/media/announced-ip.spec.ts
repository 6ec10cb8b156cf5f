import { announceCandidate, CandidateAnnouncer } from '../../../workers/media/announced-ip';

const HOST_V4 = 'candidate:1467250027 1 udp 2122260223 192.0.2.2 50000 typ host generation 0 network-id 1';
const HOST_LO = 'candidate:2999745851 1 udp 2122194687 127.0.0.1 50000 typ host generation 0 network-id 2';
const HOST_V6 = 'candidate:3019495547 1 udp 2122131711 fd00::2 50001 typ host generation 0 network-id 3';
const HOST_TCP = 'candidate:1 1 tcp 1518280447 192.0.2.2 50002 typ host tcptype passive generation 0';
const SRFLX = 'candidate:9 1 udp 1686052607 198.51.100.4 50000 typ srflx raddr 192.0.2.2 rport 50000';

describe('ANNOUNCED_IP candidate rewriting', () => {
  it('writes the announced address into IPv4 host candidates, UDP and TCP, keeping the rest', () => {
    expect(announceCandidate(HOST_V4, '203.0.113.7')).toBe(
      'candidate:1467250027 1 udp 2122260223 203.0.113.7 50000 typ host generation 0 network-id 1',
    );
    expect(announceCandidate(HOST_TCP, '203.0.113.7')).toBe(
      'candidate:1 1 tcp 1518280447 203.0.113.7 50002 typ host tcptype passive generation 0',
    );
  });

  it('drops IPv6 host candidates and leaves reflexive ones alone', () => {
    expect(announceCandidate(HOST_V6, '203.0.113.7')).toBeNull();
    expect(announceCandidate(SRFLX, '203.0.113.7')).toBe(SRFLX);
  });

  it('sends a trickled candidate equal to one already sent only once', () => {
    const a = new CandidateAnnouncer('203.0.113.7');
    expect(a.candidate(HOST_V4)).toContain('203.0.113.7 50000');
    expect(a.candidate(HOST_LO)).toBeNull();
    expect(a.candidate(HOST_V6)).toBeNull();
  });

  it('rewrites a description: candidates, c= lines, no duplicates within a section, every section its own', () => {
    const sdp = [
      'v=0',
      'o=- 1 2 IN IP4 127.0.0.1',
      'm=audio 50000 UDP/TLS/RTP/SAVPF 111',
      'c=IN IP4 192.0.2.2',
      `a=${HOST_V4}`,
      `a=${HOST_LO}`,
      `a=${HOST_V6}`,
      'm=video 9 UDP/TLS/RTP/SAVPF 96',
      'c=IN IP4 0.0.0.0',
      `a=${HOST_V4}`,
      '',
    ].join('\r\n');
    const out = new CandidateAnnouncer('203.0.113.7').sdp(sdp).split('\r\n');
    expect(out.filter((l) => l.startsWith('a=candidate:'))).toEqual([
      'a=candidate:1467250027 1 udp 2122260223 203.0.113.7 50000 typ host generation 0 network-id 1',
      'a=candidate:1467250027 1 udp 2122260223 203.0.113.7 50000 typ host generation 0 network-id 1',
    ]);
    expect(out).toContain('c=IN IP4 203.0.113.7');
    expect(out).toContain('c=IN IP4 0.0.0.0');
    expect(out.join('\n')).not.toMatch(/192\.0\.2\.2|fd00::2/);
  });
});
