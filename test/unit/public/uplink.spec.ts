import { sendLimits } from '../../../public/src/uplink';

describe('the page camera limits (public/src/uplink.ts)', () => {
  it('sends no wider than the profile served: standard 640, low and the data saver 320, high the camera', () => {
    expect(sendLimits(1280, 'high', false, null)).toMatchObject({
      scaleResolutionDownBy: 1,
      width: 1280,
      maxBitrate: 1_700_000,
    });
    expect(sendLimits(1280, 'standard', false, null)).toMatchObject({
      scaleResolutionDownBy: 2,
      width: 640,
      maxBitrate: 550_000,
    });
    expect(sendLimits(640, 'low', false, null)).toMatchObject({
      scaleResolutionDownBy: 2,
      width: 320,
      maxBitrate: 120_000,
    });
    expect(sendLimits(640, 'audio', false, null)).toMatchObject({ scaleResolutionDownBy: 2, width: 320 });
    // A camera smaller than the profile is sent as it is.
    expect(sendLimits(320, 'high', false, null)).toMatchObject({ scaleResolutionDownBy: 1, width: 320 });
  });

  it('a weak uplink halves the picture (not below 160 px) and caps the rate at what got through', () => {
    expect(sendLimits(640, 'standard', true, 300)).toMatchObject({
      width: 320,
      scaleResolutionDownBy: 2,
      maxBitrate: 260_000,
    });
    expect(sendLimits(640, 'standard', true, null)).toMatchObject({ width: 320, maxBitrate: 275_000 });
    expect(sendLimits(640, 'low', true, 20)).toMatchObject({
      width: 160,
      scaleResolutionDownBy: 4,
      maxBitrate: 60_000,
    });
    expect(sendLimits(160, 'low', true, null)).toMatchObject({ width: 160, scaleResolutionDownBy: 1 });
  });

  it('before the camera reports a size nothing is scaled', () => {
    expect(sendLimits(0, 'standard', false, null)).toMatchObject({ scaleResolutionDownBy: 1, width: 0 });
  });
});
