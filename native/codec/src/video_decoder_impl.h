// The codec side of a video decoder (libavcodec's native h264 and vp8 decoders), free of N-API.
// It refuses to show a picture built on a missing reference: after a loss it reports
// kNeedKeyframe for every access unit until a keyframe (IDR) arrives and decodes, so the caller
// can send a PLI (throttled on its side) and keep showing the last good picture.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <string>

#include "h264_bitstream.h"

extern "C" {
struct AVCodecContext;
struct AVFrame;
struct AVPacket;
}

namespace codec {

enum class VideoCodec { kVp8, kH264 };

enum class DecodeStatus : int {
  kFrame = 0,         // a picture is in the output frame
  kNeedKeyframe = 1,  // this access unit cannot be shown correctly; send a keyframe request
  kNoFrame = 2,       // accepted, nothing to show (e.g. parameter sets only)
};

// Why a keyframe is needed (the strings the JS side receives).
enum class NeedReason : int {
  kNone = 0,
  kNoKeyframeYet = 1,    // decoding has not started with a keyframe
  kReferenceLost = 2,    // a reference picture is missing (frame_num gap, or caller-reported loss)
  kDecodeError = 3,      // the decoder rejected or concealed the access unit
  kUnsupported = 4,      // e.g. a pixel format other than 8-bit 4:2:0
};
const char* NeedReasonName(NeedReason reason);

class VideoDecoderImpl {
 public:
  VideoDecoderImpl() = default;
  ~VideoDecoderImpl();
  VideoDecoderImpl(const VideoDecoderImpl&) = delete;
  VideoDecoderImpl& operator=(const VideoDecoderImpl&) = delete;

  bool Init(VideoCodec codec, int threads, std::string* error);
  // `data` must be followed by AV_INPUT_BUFFER_PADDING_SIZE readable bytes. `lost_before`: the
  // caller knows that data before this access unit is missing (RTP sequence gap, queue
  // overflow). On kFrame, `out` holds a reference to the picture (8-bit 4:2:0).
  DecodeStatus Decode(const uint8_t* data, size_t size, bool lost_before, AVFrame* out, NeedReason* reason);
  bool waiting_for_keyframe() const { return waiting_; }

 private:
  bool IsKeyframe(const uint8_t* data, size_t size, AccessUnitInfo* info);
  DecodeStatus Need(NeedReason why, NeedReason* reason);

  VideoCodec codec_ = VideoCodec::kH264;
  AVCodecContext* ctx_ = nullptr;
  AVPacket* packet_ = nullptr;
  AVFrame* frame_ = nullptr;
  H264ReferenceTracker tracker_;
  bool waiting_ = true;
  NeedReason waiting_reason_ = NeedReason::kNoKeyframeYet;
};

}  // namespace codec
