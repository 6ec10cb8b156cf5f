import * as realFs from 'node:fs';
import { setLogSink } from '../../../workers/kernel/logger';

setLogSink(() => undefined);

type CodecModules = {
  loader: typeof import('../../../workers/media/engine/codec/native-codec');
  encoder: typeof import('../../../workers/media/engine/codec/video-encoder');
  decoder: typeof import('../../../workers/media/engine/codec/video-decoder');
  opus: typeof import('../../../workers/media/engine/codec/opus');
};

/** Fresh copies of the codec modules, optionally with the addon file hidden from the loader. */
function loadModules(hideAddon: boolean): CodecModules {
  let modules: CodecModules | undefined;
  jest.isolateModules(() => {
    if (hideAddon) {
      jest.doMock('node:fs', () => ({
        ...realFs,
        existsSync: (p: realFs.PathLike) => !String(p).endsWith('codec.node') && realFs.existsSync(p),
      }));
    }
    const logger: typeof import('../../../workers/kernel/logger') = require('../../../workers/kernel/logger');
    logger.setLogSink(() => undefined);
    modules = {
      loader: require('../../../workers/media/engine/codec/native-codec'),
      encoder: require('../../../workers/media/engine/codec/video-encoder'),
      decoder: require('../../../workers/media/engine/codec/video-decoder'),
      opus: require('../../../workers/media/engine/codec/opus'),
    };
  });
  jest.dontMock('node:fs');
  if (modules === undefined) throw new Error('modules not loaded');
  return modules;
}

describe('codec addon loading', () => {
  it('says why the codecs are unavailable when the addon is not built, and every factory returns null', () => {
    const m = loadModules(true);
    const a = m.loader.codecsAvailable();
    expect(a.available).toBe(false);
    expect(a.reason).toMatch(/not built/);
    expect(a.reason).toMatch(/libx264-dev/);
    expect(m.loader.loadCodecAddon()).toBeNull();
    const sink = (): void => undefined;
    expect(
      m.encoder.VideoEncoder.create(
        { codec: 'vp8', width: 320, height: 180, fps: 15, bitrateKbps: 100 },
        sink,
      ),
    ).toBeNull();
    expect(
      m.decoder.VideoDecoder.create({ codec: 'h264' }, { onFrame: sink, onKeyframeNeeded: sink }),
    ).toBeNull();
    expect(m.opus.OpusEncoder.create()).toBeNull();
    expect(m.opus.OpusDecoder.create()).toBeNull();
  });

  const built = realFs.existsSync('native/codec/build/Release/codec.node');
  (built ? it : it.skip)('loads the built addon once and reports the library versions', () => {
    const m = loadModules(false);
    const a = m.loader.codecsAvailable();
    expect(a.available).toBe(true);
    expect(a.versions?.libvpx).toMatch(/^v1\./);
    expect(Number(a.versions?.x264)).toBeGreaterThanOrEqual(155);
    expect(a.versions?.libopus).toMatch(/libopus 1\./);
    expect(m.loader.loadCodecAddon()).toBe(m.loader.loadCodecAddon());
  });
});
