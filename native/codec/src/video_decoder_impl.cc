#include "video_decoder_impl.h"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavutil/frame.h>
}

namespace codec {

const char* NeedReasonName(NeedReason reason) {
  switch (reason) {
    case NeedReason::kNoKeyframeYet:
      return "no-keyframe-yet";
    case NeedReason::kReferenceLost:
      return "reference-lost";
    case NeedReason::kDecodeError:
      return "decode-error";
    case NeedReason::kUnsupported:
      return "unsupported";
    case NeedReason::kNone:
      break;
  }
  return "none";
}

VideoDecoderImpl::~VideoDecoderImpl() {
  av_frame_free(&frame_);
  av_packet_free(&packet_);
  avcodec_free_context(&ctx_);
}

bool VideoDecoderImpl::Init(VideoCodec codec, int threads, std::string* error) {
  codec_ = codec;
  const AVCodec* c = avcodec_find_decoder(codec == VideoCodec::kH264 ? AV_CODEC_ID_H264 : AV_CODEC_ID_VP8);
  if (c == nullptr) {
    *error = "libavcodec has no decoder for this codec";
    return false;
  }
  ctx_ = avcodec_alloc_context3(c);
  packet_ = av_packet_alloc();
  frame_ = av_frame_alloc();
  if (ctx_ == nullptr || packet_ == nullptr || frame_ == nullptr) {
    *error = "libavcodec allocation failed";
    return false;
  }
  // One picture in, one picture out: no frame threading (it delays output by a frame per
  // thread); slice threads only when asked for.
  ctx_->flags |= AV_CODEC_FLAG_LOW_DELAY;
  ctx_->thread_count = threads > 0 ? threads : 1;
  ctx_->thread_type = FF_THREAD_SLICE;
  const int err = avcodec_open2(ctx_, c, nullptr);
  if (err < 0) {
    char msg[AV_ERROR_MAX_STRING_SIZE] = {0};
    av_strerror(err, msg, sizeof msg);
    *error = std::string("avcodec_open2: ") + msg;
    return false;
  }
  return true;
}

DecodeStatus VideoDecoderImpl::Need(NeedReason why, NeedReason* reason) {
  if (!waiting_) {
    waiting_ = true;
    waiting_reason_ = why;
  }
  tracker_.Reset();
  *reason = waiting_reason_;
  return DecodeStatus::kNeedKeyframe;
}

bool VideoDecoderImpl::IsKeyframe(const uint8_t* data, size_t size, AccessUnitInfo* info) {
  if (codec_ == VideoCodec::kH264) {
    tracker_.Inspect(data, size, info);
    return info->has_idr;
  }
  // VP8 frame tag (RFC 6386 9.1): bit 0 of the first byte is 0 for a key frame.
  info->has_slice = size > 0;
  return size >= 3 && (data[0] & 1) == 0;
}

DecodeStatus VideoDecoderImpl::Decode(const uint8_t* data, size_t size, bool lost_before, AVFrame* out,
                                      NeedReason* reason) {
  *reason = NeedReason::kNone;
  AccessUnitInfo info;
  const bool key = IsKeyframe(data, size, &info);
  if (!info.has_slice) {
    // Parameter sets alone (or an empty unit): let the decoder see them, nothing to show.
    if (size == 0) return DecodeStatus::kNoFrame;
  } else if (!key) {
    if (lost_before) Need(NeedReason::kReferenceLost, reason);
    if (codec_ == VideoCodec::kH264 && !waiting_ && tracker_.HasGap(info)) Need(NeedReason::kReferenceLost, reason);
    if (waiting_) {
      *reason = waiting_reason_;
      return DecodeStatus::kNeedKeyframe;
    }
  }
  packet_->data = const_cast<uint8_t*>(data);
  packet_->size = static_cast<int>(size);
  int err = avcodec_send_packet(ctx_, packet_);
  packet_->data = nullptr;
  packet_->size = 0;
  if (err < 0) return info.has_slice ? Need(NeedReason::kDecodeError, reason) : DecodeStatus::kNoFrame;
  err = avcodec_receive_frame(ctx_, frame_);
  if (err == AVERROR(EAGAIN)) {
    // A picture went in and none came out: with low delay that means it was not decodable.
    return info.has_slice ? Need(NeedReason::kDecodeError, reason) : DecodeStatus::kNoFrame;
  }
  if (err < 0) return Need(NeedReason::kDecodeError, reason);
  if (frame_->decode_error_flags != 0 || (frame_->flags & AV_FRAME_FLAG_CORRUPT) != 0) {
    av_frame_unref(frame_);
    return Need(NeedReason::kDecodeError, reason);
  }
  if (frame_->format != AV_PIX_FMT_YUV420P && frame_->format != AV_PIX_FMT_YUVJ420P) {
    av_frame_unref(frame_);
    return Need(NeedReason::kUnsupported, reason);
  }
  if (key) waiting_ = false;
  if (codec_ == VideoCodec::kH264) tracker_.Accept(info);
  av_frame_unref(out);
  av_frame_move_ref(out, frame_);
  return DecodeStatus::kFrame;
}

}  // namespace codec
