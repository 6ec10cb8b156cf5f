// JS class VideoEncoder(options, callback).
//   encode(i420, pts) -> boolean   copies the frame and queues it; false when a frame is already
//                                  in flight (the caller counts it as dropped) or after close()
//   requestKeyframe()              the next frame passed to encode() becomes a keyframe / IDR
//   setBitrate(kbps)               applied from the next frame passed to encode()
//   close()                        stops the thread; undelivered output is discarded
//   level() -> number              H.264 level_idc in the SPS (0 for VP8)
// callback(buffer, byteLength, keyframe, pts, encodeUs, dropped, error): once per accepted
// frame, in order, on the JS thread. `buffer` is an ArrayBuffer reused for every frame (grown
// when needed): its first byteLength bytes are valid until the callback returns.
#include <string.h>

#include <chrono>

#include "async_codec.h"
#include "napi_helpers.h"
#include "video_encoder_impl.h"

namespace codec {
namespace {

const napi_type_tag kEncoderTag = {0x6d63755f76656e63ULL, 0x0000000000000001ULL};

struct EncodeJob : Job {
  std::vector<uint8_t> input;
  double pts = 0;
  int64_t index = 0;
  bool force_keyframe = false;
  int bitrate_kbps = 0;  // 0: unchanged
  EncodedFrame output;
  bool ok = true;
  std::string error;
  double encode_us = 0;
};

class EncoderCore : public AsyncCodec {
 public:
  EncoderCore(std::unique_ptr<VideoEncoderImpl> impl, size_t frame_bytes) : impl_(std::move(impl)) {
    auto job = std::make_unique<EncodeJob>();
    job->input.resize(frame_bytes);
    AddJob(std::move(job));
  }

  VideoEncoderImpl* impl() { return impl_.get(); }
  size_t frame_bytes_ = 0;
  int64_t next_index_ = 0;
  bool keyframe_requested_ = false;
  int pending_kbps_ = 0;

 protected:
  void Process(Job* base) override {
    EncodeJob* job = static_cast<EncodeJob*>(base);
    const auto start = std::chrono::steady_clock::now();
    job->ok = true;
    job->error.clear();
    if (job->bitrate_kbps > 0 && !impl_->SetBitrate(job->bitrate_kbps, &job->error)) job->ok = false;
    if (job->ok) {
      job->ok = impl_->Encode(job->input.data(), job->index, job->force_keyframe, &job->output, &job->error);
    }
    job->encode_us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count();
  }

  size_t Deliver(napi_env env, Job* base, napi_value* argv) override {
    EncodeJob* job = static_cast<EncodeJob*>(base);
    napi_value buffer = nullptr;
    uint8_t* data = nullptr;
    const size_t n = job->ok ? job->output.data.size() : 0;
    if (!output_.Ensure(env, n, &buffer, &data)) return 0;
    if (n > 0) memcpy(data, job->output.data.data(), n);
    argv[0] = buffer;
    argv[1] = Int(env, static_cast<int64_t>(n));
    argv[2] = Boolean(env, job->ok && job->output.keyframe);
    argv[3] = Double(env, job->pts);
    argv[4] = Double(env, job->encode_us);
    argv[5] = Boolean(env, job->ok && job->output.dropped);
    argv[6] = job->ok ? Undefined(env) : String(env, job->error);
    return 7;
  }

  void ReleaseJs(napi_env env) override { output_.Reset(env); }

 private:
  std::unique_ptr<VideoEncoderImpl> impl_;
  OutputBuffer output_;
};

EncoderCore* Self(napi_env env, napi_value self) {
  EncoderCore* core = AsyncCodec::Unwrap<EncoderCore>(env, self, &kEncoderTag);
  if (core == nullptr) ThrowType(env, "not a VideoEncoder");
  return core;
}

bool ReadConfig(napi_env env, napi_value o, std::string* codec, EncoderConfig* c, std::string* bad) {
  if (!OptString(env, o, "codec", codec)) return *bad = "codec", false;
  if (!OptInt(env, o, "width", &c->width)) return *bad = "width", false;
  if (!OptInt(env, o, "height", &c->height)) return *bad = "height", false;
  if (!OptInt(env, o, "fps", &c->fps)) return *bad = "fps", false;
  if (!OptInt(env, o, "bitrateKbps", &c->bitrate_kbps)) return *bad = "bitrateKbps", false;
  if (!OptInt(env, o, "maxBitrateKbps", &c->max_bitrate_kbps)) return *bad = "maxBitrateKbps", false;
  if (!OptInt(env, o, "keyframeIntervalFrames", &c->keyframe_interval)) return *bad = "keyframeIntervalFrames", false;
  if (!OptInt(env, o, "threads", &c->threads)) return *bad = "threads", false;
  if (!OptInt(env, o, "bufferMs", &c->buffer_ms)) return *bad = "bufferMs", false;
  if (!OptInt(env, o, "vp8Speed", &c->vp8_speed)) return *bad = "vp8Speed", false;
  if (!OptInt(env, o, "vp8TokenPartitions", &c->vp8_token_partitions)) return *bad = "vp8TokenPartitions", false;
  if (!OptBool(env, o, "frameDropping", &c->frame_dropping)) return *bad = "frameDropping", false;
  if (!OptString(env, o, "x264Preset", &c->x264_preset)) return *bad = "x264Preset", false;
  if (!OptInt(env, o, "sliceMaxBytes", &c->slice_max_bytes)) return *bad = "sliceMaxBytes", false;
  return true;
}

napi_value New(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  napi_value self = nullptr;
  if (!Args(env, info, 2, argv, &self)) return nullptr;
  napi_valuetype cb_type;
  napi_typeof(env, argv[1], &cb_type);
  if (cb_type != napi_function) return ThrowType(env, "VideoEncoder: callback must be a function");
  std::string codec_name;
  EncoderConfig config;
  std::string bad;
  if (!ReadConfig(env, argv[0], &codec_name, &config, &bad)) {
    return ThrowType(env, "VideoEncoder: bad option " + bad);
  }
  // Even sizes: I420 chroma and both codecs' macroblock grids expect them.
  if (config.width < 16 || config.height < 16 || config.width > 4096 || config.height > 4096 ||
      (config.width & 1) || (config.height & 1) || config.fps < 1 || config.fps > 120 || config.bitrate_kbps < 8 ||
      config.threads < 1 || config.threads > 16 || config.max_bitrate_kbps < 0 || config.buffer_ms < 100 || config.keyframe_interval < 0 ||
      config.slice_max_bytes < 0) {
    return ThrowType(env, "VideoEncoder: option out of range");
  }
  std::unique_ptr<VideoEncoderImpl> impl;
  if (codec_name == "vp8") {
    impl = CreateVp8Encoder();
  } else if (codec_name == "h264") {
    impl = CreateH264Encoder();
  } else {
    return ThrowType(env, "VideoEncoder: codec must be 'vp8' or 'h264'");
  }
  std::string error;
  if (!impl->Init(config, &error)) return Throw(env, "VideoEncoder: " + error);
  const size_t frame_bytes = static_cast<size_t>(config.width) * config.height +
                             2 * static_cast<size_t>((config.width + 1) / 2) * ((config.height + 1) / 2);
  EncoderCore* core = new EncoderCore(std::move(impl), frame_bytes);
  core->frame_bytes_ = frame_bytes;
  if (!core->Wrap(env, self, &kEncoderTag)) {
    delete core;
    return Throw(env, "VideoEncoder: wrap failed");
  }
  if (!core->Start(env, argv[1], "VideoEncoder")) return Throw(env, "VideoEncoder: could not start its thread");
  return self;
}

napi_value Encode(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  napi_value self = nullptr;
  if (!Args(env, info, 2, argv, &self)) return nullptr;
  EncoderCore* core = Self(env, self);
  if (core == nullptr) return nullptr;
  Bytes frame;
  double pts = 0;
  if (!GetBytes(env, argv[0], &frame) || !GetDouble(env, argv[1], &pts)) {
    return ThrowType(env, "encode(i420: Uint8Array, pts: number)");
  }
  if (frame.length < core->frame_bytes_) return ThrowType(env, "encode: frame smaller than width x height I420");
  EncodeJob* job = static_cast<EncodeJob*>(core->Acquire());
  if (job == nullptr) return Boolean(env, false);
  // Copied: the caller reuses its frame buffer (the compositor's canvas) right after.
  memcpy(job->input.data(), frame.data, core->frame_bytes_);
  job->pts = pts;
  job->index = core->next_index_++;
  job->force_keyframe = core->keyframe_requested_ || job->index == 0;
  job->bitrate_kbps = core->pending_kbps_;
  core->keyframe_requested_ = false;
  core->pending_kbps_ = 0;
  core->Submit(job);
  return Boolean(env, true);
}

napi_value RequestKeyframe(napi_env env, napi_callback_info info) {
  napi_value self = nullptr;
  if (!Args(env, info, 0, nullptr, &self)) return nullptr;
  EncoderCore* core = Self(env, self);
  if (core == nullptr) return nullptr;
  core->keyframe_requested_ = true;
  return Undefined(env);
}

napi_value SetBitrate(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  napi_value self = nullptr;
  if (!Args(env, info, 1, argv, &self)) return nullptr;
  EncoderCore* core = Self(env, self);
  if (core == nullptr) return nullptr;
  int32_t kbps = 0;
  if (!GetInt32(env, argv[0], &kbps) || kbps < 8 || kbps > 100000) return ThrowType(env, "setBitrate(kbps: 8..100000)");
  core->pending_kbps_ = kbps;
  return Undefined(env);
}

napi_value Close(napi_env env, napi_callback_info info) {
  napi_value self = nullptr;
  if (!Args(env, info, 0, nullptr, &self)) return nullptr;
  EncoderCore* core = Self(env, self);
  if (core == nullptr) return nullptr;
  core->Close();
  return Undefined(env);
}

napi_value Level(napi_env env, napi_callback_info info) {
  napi_value self = nullptr;
  if (!Args(env, info, 0, nullptr, &self)) return nullptr;
  EncoderCore* core = Self(env, self);
  if (core == nullptr) return nullptr;
  return Int(env, core->impl()->level());
}

}  // namespace

bool RegisterVideoEncoder(napi_env env, napi_value exports) {
  static const Method methods[] = {
      {"encode", Encode}, {"requestKeyframe", RequestKeyframe}, {"setBitrate", SetBitrate},
      {"close", Close},   {"level", Level},
  };
  return DefineClass(env, exports, "VideoEncoder", New, methods, sizeof methods / sizeof methods[0]);
}

}  // namespace codec
