import type { UplinkFigures } from '../../../workers/protocol/media';
import type { RawStat } from '../../../workers/media/downlink-stats';
import { UplinkMonitor, UplinkStatsReader } from '../../../workers/media/uplink-monitor';

const inbound = (o: Partial<RawStat>): RawStat[] => [
  {
    id: 'in-a',
    type: 'inbound-rtp',
    kind: 'audio',
    bytesReceived: 99_999,
    packetsReceived: 500,
    packetsLost: 50,
  },
  { id: 'in-v', type: 'inbound-rtp', kind: 'video', ...o },
  { id: 'out-v', type: 'outbound-rtp', kind: 'video', bytesSent: 1_000_000 },
];

const figures = (o: Partial<UplinkFigures> = {}): UplinkFigures => ({
  kbps: 400,
  fps: 15,
  width: 640,
  height: 360,
  lossPct: 0,
  ...o,
});

describe('UplinkStatsReader', () => {
  it("turns two reports into the participant's video rate, frame rate, size and loss (its video only)", () => {
    const r = new UplinkStatsReader();
    expect(
      r.read(
        inbound({
          bytesReceived: 0,
          headerBytesReceived: 0,
          packetsReceived: 0,
          packetsLost: 0,
          framesDecoded: 0,
        }),
        0,
      ),
    ).toBeNull();
    const f = r.read(
      inbound({
        bytesReceived: 47_500,
        headerBytesReceived: 2_500,
        packetsReceived: 95,
        packetsLost: 5,
        framesDecoded: 30,
        frameWidth: 320,
        frameHeight: 180,
      }),
      2000,
    );
    expect(f).toEqual({ kbps: 200, fps: 15, width: 320, height: 180, lossPct: 5 });
  });

  it('a report without inbound video gives nothing; counters that restart give no negative rate', () => {
    const r = new UplinkStatsReader();
    expect(r.read([{ id: 'x', type: 'outbound-rtp', kind: 'video', bytesSent: 5 }], 0)).toBeNull();
    r.read(inbound({ bytesReceived: 10_000, packetsReceived: 100, packetsLost: 10, framesDecoded: 100 }), 0);
    const f = r.read(
      inbound({ bytesReceived: 100, packetsReceived: 2, packetsLost: 0, framesDecoded: 1 }),
      1000,
    );
    expect(f).toMatchObject({ kbps: 0, fps: 0, lossPct: 0 });
  });
});

describe('UplinkMonitor', () => {
  it('weak after 3 windows of loss or a low frame rate, good again after 10 good windows', () => {
    const m = new UplinkMonitor();
    expect(m.update(figures({ lossPct: 12 }))).toBeNull();
    expect(m.update(figures({ lossPct: 12 }))).toBeNull();
    expect(m.update(figures({ fps: 4 }))).toBe('weak');
    expect(m.state).toBe('weak');
    for (let i = 0; i < 9; i++) expect(m.update(figures())).toBeNull();
    expect(m.update(figures())).toBe('good');
  });

  it('a single bad window is no weak link, and a good window restarts the count', () => {
    const m = new UplinkMonitor();
    for (let i = 0; i < 10; i++) {
      expect(m.update(figures({ lossPct: 20 }))).toBeNull();
      expect(m.update(figures({ lossPct: 20 }))).toBeNull();
      expect(m.update(figures())).toBeNull();
    }
    expect(m.state).toBe('good');
  });

  it('a window with no video at all (camera off) is not judged either way', () => {
    const m = new UplinkMonitor();
    for (let i = 0; i < 3; i++) m.update(figures({ fps: 2 }));
    expect(m.state).toBe('weak');
    for (let i = 0; i < 30; i++) expect(m.update(figures({ kbps: 0, fps: 0 }))).toBeNull();
    expect(m.state).toBe('weak');
  });
});
