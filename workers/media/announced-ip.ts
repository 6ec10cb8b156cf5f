/**
 * ANNOUNCED_IP: a node behind NAT (a cloud VM, a hostNetwork pod) knows its ports but not the
 * address clients reach it by. Like mediasoup's `announcedIp`, the worker writes that address
 * into every host candidate it hands a client, in the SDP and in trickled candidates. IPv6 host
 * candidates are dropped (the announced address is the one way in, and they would leak private
 * addresses); server-reflexive and relay candidates are left alone. libwebrtc gathers on every
 * interface, so with a port range two interfaces may yield the same rewritten candidate: those
 * duplicates are dropped too (the client would only check the same address twice).
 */

/** `candidate:<foundation> <component> <transport> <priority> <address> <port> typ <type> ...` */
const CANDIDATE = /^(candidate:\S+ \d+ \S+ \d+ )(\S+)( \d+ typ )(\S+)(.*)$/;

/** The rewritten candidate attribute (without `a=`), or null when it must not reach the client. */
export function announceCandidate(candidate: string, announcedIp: string): string | null {
  const m = CANDIDATE.exec(candidate);
  if (!m || m[4] !== 'host') return candidate;
  if (m[2].includes(':') || m[2].endsWith('.local')) return null;
  return `${m[1]}${announcedIp}${m[3]}${m[4]}${m[5]}`;
}

/** The key two candidates share when a client would send to the same place for both. */
function candidateKey(candidate: string): string {
  const m = CANDIDATE.exec(candidate);
  if (!m) return candidate;
  const [component, transport] = m[1].split(' ').slice(1, 3);
  return `${component} ${transport.toLowerCase()} ${m[2]}${m[3]}${m[4]}`;
}

/**
 * Rewrites one peer's candidates as they leave the worker; it remembers what it has sent so
 * that a trickled candidate equal to an earlier one is not sent again.
 */
export class CandidateAnnouncer {
  private readonly sent = new Set<string>();

  constructor(private readonly announcedIp: string) {}

  /** A trickled candidate: the rewritten one, or null to send nothing. */
  candidate(candidate: string): string | null {
    const out = announceCandidate(candidate, this.announcedIp);
    if (out === null) return null;
    const key = candidateKey(out);
    if (this.sent.has(key)) return null;
    this.sent.add(key);
    return out;
  }

  /**
   * An offer or answer: candidate lines rewritten or removed, `c=` lines on the announced IP.
   * Every description carries all of its candidates (a re-offer repeats them), so duplicates
   * are dropped within one description only.
   */
  sdp(sdp: string): string {
    const eol = sdp.includes('\r\n') ? '\r\n' : '\n';
    const v4 = !this.announcedIp.includes(':');
    const inThisSdp = new Set<string>();
    const out: string[] = [];
    for (const line of sdp.split(/\r?\n/)) {
      if (line.startsWith('a=candidate:')) {
        const c = announceCandidate(line.slice(2), this.announcedIp);
        if (c === null) continue;
        // The section (mid) is part of the key: each m-line lists its own candidates.
        const key = `${out.filter((l) => l.startsWith('m=')).length} ${candidateKey(c)}`;
        if (inThisSdp.has(key)) continue;
        inThisSdp.add(key);
        this.sent.add(candidateKey(c));
        out.push(`a=${c}`);
        continue;
      }
      // The default address of a section; 0.0.0.0 means "none yet" and stays as it is.
      if (/^c=IN IP[46] /.test(line) && !line.endsWith(' 0.0.0.0') && !line.endsWith(' ::')) {
        out.push(`c=IN ${v4 ? 'IP4' : 'IP6'} ${this.announcedIp}`);
        continue;
      }
      out.push(line);
    }
    return out.join(eol);
  }
}
