// JS class VideoDecoder(options, callback).
//   decode(data, pts, lostBefore) -> boolean  copies the access unit (H.264 Annex B, or a VP8
//       frame) and queues it; false when `queueSize` units are already waiting (the unit is
//       dropped, and the next accepted one is treated as following a loss) or after close()
//   close()
// callback(status, buffer, byteLength, width, height, pts, decodeUs, reason): once per accepted
// unit, in order. status 0: an I420 picture (planes packed, chroma ceil(w/2) x ceil(h/2)) in
// the first byteLength bytes of `buffer` (an ArrayBuffer reused for every picture, valid until
// the callback returns); 1: the unit cannot be shown, send a keyframe request (`reason` says
// why); 2: nothing to show (parameter sets only).
#include <string.h>

#include <chrono>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavutil/frame.h>
}

#include "async_codec.h"
#include "napi_helpers.h"
#include "video_decoder_impl.h"

namespace codec {
namespace {

const napi_type_tag kDecoderTag = {0x6d63755f76646563ULL, 0x0000000000000002ULL};

struct DecodeJob : Job {
  DecodeJob() : frame(av_frame_alloc()) {}
  ~DecodeJob() override { av_frame_free(&frame); }
  std::vector<uint8_t> input;  // the unit, then AV_INPUT_BUFFER_PADDING_SIZE zero bytes
  size_t size = 0;
  double pts = 0;
  bool lost_before = false;
  DecodeStatus status = DecodeStatus::kNoFrame;
  NeedReason reason = NeedReason::kNone;
  AVFrame* frame;  // holds the decoder's picture until it is copied out on the JS thread
  double decode_us = 0;
};

class DecoderCore : public AsyncCodec {
 public:
  DecoderCore(std::unique_ptr<VideoDecoderImpl> impl, int queue_size) : impl_(std::move(impl)) {
    for (int i = 0; i < queue_size; i++) AddJob(std::make_unique<DecodeJob>());
  }
  bool loss_pending_ = false;

 protected:
  void Process(Job* base) override {
    DecodeJob* job = static_cast<DecodeJob*>(base);
    const auto start = std::chrono::steady_clock::now();
    job->status = impl_->Decode(job->input.data(), job->size, job->lost_before, job->frame, &job->reason);
    job->decode_us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count();
  }

  size_t Deliver(napi_env env, Job* base, napi_value* argv) override {
    DecodeJob* job = static_cast<DecodeJob*>(base);
    napi_value buffer = Undefined(env);
    size_t n = 0;
    int width = 0, height = 0;
    if (job->status == DecodeStatus::kFrame) {
      const AVFrame* f = job->frame;
      width = f->width;
      height = f->height;
      const int cw = (width + 1) / 2;
      const int ch = (height + 1) / 2;
      n = static_cast<size_t>(width) * height + 2 * static_cast<size_t>(cw) * ch;
      uint8_t* dst = nullptr;
      if (!output_.Ensure(env, n, &buffer, &dst)) {
        av_frame_unref(job->frame);
        return 0;
      }
      // Decoder planes have padded strides; the caller gets tightly packed I420.
      for (int y = 0; y < height; y++) memcpy(dst + y * width, f->data[0] + y * f->linesize[0], width);
      uint8_t* u = dst + static_cast<size_t>(width) * height;
      uint8_t* v = u + static_cast<size_t>(cw) * ch;
      for (int y = 0; y < ch; y++) {
        memcpy(u + y * cw, f->data[1] + y * f->linesize[1], cw);
        memcpy(v + y * cw, f->data[2] + y * f->linesize[2], cw);
      }
      av_frame_unref(job->frame);
    }
    argv[0] = Int(env, static_cast<int>(job->status));
    argv[1] = buffer;
    argv[2] = Int(env, static_cast<int64_t>(n));
    argv[3] = Int(env, width);
    argv[4] = Int(env, height);
    argv[5] = Double(env, job->pts);
    argv[6] = Double(env, job->decode_us);
    argv[7] = String(env, NeedReasonName(job->reason));
    return 8;
  }

  void ReleaseJs(napi_env env) override { output_.Reset(env); }

 private:
  std::unique_ptr<VideoDecoderImpl> impl_;
  OutputBuffer output_;
};

DecoderCore* Self(napi_env env, napi_value self) {
  DecoderCore* core = AsyncCodec::Unwrap<DecoderCore>(env, self, &kDecoderTag);
  if (core == nullptr) ThrowType(env, "not a VideoDecoder");
  return core;
}

napi_value New(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  napi_value self = nullptr;
  if (!Args(env, info, 2, argv, &self)) return nullptr;
  napi_valuetype cb_type;
  napi_typeof(env, argv[1], &cb_type);
  if (cb_type != napi_function) return ThrowType(env, "VideoDecoder: callback must be a function");
  std::string codec_name;
  int32_t threads = 1;
  int32_t queue_size = 8;
  if (!OptString(env, argv[0], "codec", &codec_name) || !OptInt(env, argv[0], "threads", &threads) ||
      !OptInt(env, argv[0], "queueSize", &queue_size)) {
    return ThrowType(env, "VideoDecoder: options { codec, threads?, queueSize? }");
  }
  if (threads < 1 || threads > 16 || queue_size < 1 || queue_size > 256) {
    return ThrowType(env, "VideoDecoder: option out of range");
  }
  VideoCodec codec;
  if (codec_name == "h264") {
    codec = VideoCodec::kH264;
  } else if (codec_name == "vp8") {
    codec = VideoCodec::kVp8;
  } else {
    return ThrowType(env, "VideoDecoder: codec must be 'h264' or 'vp8'");
  }
  auto impl = std::make_unique<VideoDecoderImpl>();
  std::string error;
  if (!impl->Init(codec, threads, &error)) return Throw(env, "VideoDecoder: " + error);
  DecoderCore* core = new DecoderCore(std::move(impl), queue_size);
  if (!core->Wrap(env, self, &kDecoderTag)) {
    delete core;
    return Throw(env, "VideoDecoder: wrap failed");
  }
  if (!core->Start(env, argv[1], "VideoDecoder")) return Throw(env, "VideoDecoder: could not start its thread");
  return self;
}

napi_value Decode(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  napi_value self = nullptr;
  if (!Args(env, info, 3, argv, &self)) return nullptr;
  DecoderCore* core = Self(env, self);
  if (core == nullptr) return nullptr;
  Bytes unit;
  double pts = 0;
  bool lost_before = false;
  if (!GetBytes(env, argv[0], &unit) || !GetDouble(env, argv[1], &pts) ||
      !(IsNullish(env, argv[2]) || GetBool(env, argv[2], &lost_before))) {
    return ThrowType(env, "decode(data: Uint8Array, pts: number, lostBefore?: boolean)");
  }
  DecodeJob* job = static_cast<DecodeJob*>(core->Acquire());
  if (job == nullptr) {
    // Overflow: this unit is lost, so whatever comes next may reference it.
    if (!core->closed()) core->loss_pending_ = true;
    return Boolean(env, false);
  }
  // Copied: the caller's depacketizer reuses its buffer. resize() only grows the capacity.
  job->input.resize(unit.length + AV_INPUT_BUFFER_PADDING_SIZE);
  if (unit.length > 0) memcpy(job->input.data(), unit.data, unit.length);
  memset(job->input.data() + unit.length, 0, AV_INPUT_BUFFER_PADDING_SIZE);
  job->size = unit.length;
  job->pts = pts;
  job->lost_before = lost_before || core->loss_pending_;
  core->loss_pending_ = false;
  core->Submit(job);
  return Boolean(env, true);
}

napi_value Close(napi_env env, napi_callback_info info) {
  napi_value self = nullptr;
  if (!Args(env, info, 0, nullptr, &self)) return nullptr;
  DecoderCore* core = Self(env, self);
  if (core == nullptr) return nullptr;
  core->Close();
  return Undefined(env);
}

}  // namespace

bool RegisterVideoDecoder(napi_env env, napi_value exports) {
  static const Method methods[] = {{"decode", Decode}, {"close", Close}};
  return DefineClass(env, exports, "VideoDecoder", New, methods, sizeof methods / sizeof methods[0]);
}

}  // namespace codec
