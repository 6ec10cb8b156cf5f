// The codec side of a video encoder, free of N-API: configured once, then Encode() per frame
// on the instance's worker thread. SetBitrate() and the keyframe flag are applied by that same
// thread just before the frame they ride along with, so the libraries are never called from two
// threads.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <memory>
#include <string>
#include <vector>

namespace codec {

struct EncoderConfig {
  int width = 0;
  int height = 0;
  int fps = 15;
  int bitrate_kbps = 500;
  // Highest bitrate setBitrate() may ask for; the H.264 level is chosen to allow it
  // (0: twice bitrate_kbps).
  int max_bitrate_kbps = 0;
  // Periodic keyframe floor, in frames (0: only on request and at start).
  int keyframe_interval = 0;
  int threads = 1;
  // Rate-control buffer, in ms of the target bitrate.
  int buffer_ms = 1000;
  // VP8: cpu-used (negative: fixed speed; libwebrtc uses -6, -4 below CIF). 0: that default.
  int vp8_speed = 0;
  // VP8: 1, 2, 4 or 8 DCT token partitions.
  int vp8_token_partitions = 1;
  // VP8: let rate control skip frames when the buffer runs dry (libwebrtc does).
  bool frame_dropping = false;
  // H.264: x264 preset (ultrafast, superfast, veryfast, ...).
  std::string x264_preset = "superfast";
  // H.264: maximum slice size in bytes (0: one slice per frame).
  int slice_max_bytes = 0;
};

struct EncodedFrame {
  std::vector<uint8_t> data;  // VP8 frame, or an H.264 access unit in Annex B
  bool keyframe = false;
  bool dropped = false;  // rate control skipped the frame: no data
};

class VideoEncoderImpl {
 public:
  virtual ~VideoEncoderImpl() = default;
  virtual bool Init(const EncoderConfig& config, std::string* error) = 0;
  // `i420` is width*height + 2*ceil(w/2)*ceil(h/2) bytes, planes packed. `index` counts
  // encoded frames (the encoders' timeline: one frame period each).
  virtual bool Encode(const uint8_t* i420, int64_t index, bool force_keyframe, EncodedFrame* out,
                      std::string* error) = 0;
  virtual bool SetBitrate(int kbps, std::string* error) = 0;
  // For tests and logs: the H.264 level chosen (e.g. 31), 0 for VP8.
  virtual int level() const { return 0; }
};

std::unique_ptr<VideoEncoderImpl> CreateVp8Encoder();
std::unique_ptr<VideoEncoderImpl> CreateH264Encoder();

// Smallest H.264 level whose frame size and macroblock rate limits hold the given format
// (Table A-1), e.g. 640x360@15 -> 22 (2.2), 1280x720@30 -> 31 (3.1).
int H264LevelFor(int width, int height, int fps, int bitrate_kbps);

}  // namespace codec
