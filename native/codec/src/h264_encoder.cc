// H.264 through libx264's own API, for WebRTC receivers that negotiated constrained baseline
// (profile-level-id 42e01f, packetization-mode 1):
//   - profile "baseline" (x264 then writes profile_idc 66 with constraint_set0 and set1: the
//     "42c0xx" form of constrained baseline), level chosen from the format (Table A-1);
//   - tune zerolatency: no B-frames, no lookahead, no frame threads, so each input frame is one
//     output access unit at once;
//   - SPS and PPS repeated before every IDR (b_repeat_headers) in Annex B, so a receiver that
//     joins or asks for a keyframe can decode from that access unit alone;
//   - ABR with a VBV of `buffer_ms` of the target (CBR-like);
//   - i_slice_max_size when asked, so NAL units fit an RTP packet without FU-A fragmentation.
// Runtime control: X264_TYPE_IDR on the picture after a request; bitrate through
// x264_encoder_reconfig, applied from the next frame (both measured in native/codec/probe).
#include <stdarg.h>
#include <stdint.h>
#include <string.h>

#include <x264.h>

#include "video_encoder_impl.h"

namespace codec {

int H264LevelFor(int width, int height, int fps, int bitrate_kbps) {
  struct Level {
    int idc;
    long max_mbps;  // macroblocks per second
    long max_fs;    // macroblocks per frame
    long max_br;    // kbit/s (baseline/main VCL)
  };
  static const Level kLevels[] = {
      {10, 1485, 99, 64},           {11, 3000, 396, 192},        {12, 6000, 396, 384},
      {13, 11880, 396, 768},        {20, 11880, 396, 2000},      {21, 19800, 792, 4000},
      {22, 20250, 1620, 4000},      {30, 40500, 1620, 10000},    {31, 108000, 3600, 14000},
      {32, 216000, 5120, 20000},    {40, 245760, 8192, 20000},   {41, 245760, 8192, 50000},
      {42, 522240, 8704, 50000},    {50, 589824, 22080, 135000}, {51, 983040, 36864, 240000},
      {52, 2073600, 36864, 240000},
  };
  const long mbs_w = (width + 15) / 16;
  const long mbs_h = (height + 15) / 16;
  const long fs = mbs_w * mbs_h;
  for (const Level& l : kLevels) {
    // A dimension may not exceed sqrt(8 * MaxFS) macroblocks (A.3.1 f, g).
    if (fs <= l.max_fs && mbs_w * mbs_w <= 8 * l.max_fs && mbs_h * mbs_h <= 8 * l.max_fs &&
        fs * fps <= l.max_mbps && bitrate_kbps <= l.max_br) {
      return l.idc;
    }
  }
  return 52;
}

namespace {

void QuietLog(void*, int, const char*, va_list) {}

class H264Encoder : public VideoEncoderImpl {
 public:
  ~H264Encoder() override {
    if (encoder_ != nullptr) x264_encoder_close(encoder_);
  }

  bool Init(const EncoderConfig& c, std::string* error) override {
    config_ = c;
    if (x264_param_default_preset(&param_, c.x264_preset.c_str(), "zerolatency") < 0) {
      *error = "unknown x264 preset: " + c.x264_preset;
      return false;
    }
    param_.i_log_level = X264_LOG_ERROR;
    param_.pf_log = QuietLog;
    param_.i_threads = c.threads;
    // zerolatency turns sliced threads on; with one thread they are moot, with more they keep
    // the one-frame-in, one-frame-out latency.
    param_.b_sliced_threads = c.threads > 1;
    param_.i_width = c.width;
    param_.i_height = c.height;
    param_.i_csp = X264_CSP_I420;
    param_.i_fps_num = c.fps;
    param_.i_fps_den = 1;
    param_.i_timebase_num = 1;
    param_.i_timebase_den = c.fps;
    // Rate control assumes exactly fps frames per second (the caller's frame clock).
    param_.b_vfr_input = 0;
    param_.i_keyint_max = c.keyframe_interval > 0 ? c.keyframe_interval : X264_KEYINT_MAX_INFINITE;
    param_.b_repeat_headers = 1;
    param_.b_annexb = 1;
    param_.b_aud = 0;
    param_.i_slice_max_size = c.slice_max_bytes;
    level_max_kbps_ = 0;
    const int max_kbps = c.max_bitrate_kbps > 0 ? c.max_bitrate_kbps : 2 * c.bitrate_kbps;
    param_.i_level_idc = H264LevelFor(c.width, c.height, c.fps, max_kbps);
    level_ = param_.i_level_idc;
    level_max_kbps_ = LevelMaxKbps(level_);
    ApplyBitrate(c.bitrate_kbps);
    if (x264_param_apply_profile(&param_, "baseline") < 0) {
      *error = "x264_param_apply_profile(baseline) failed";
      return false;
    }
    encoder_ = x264_encoder_open(&param_);
    if (encoder_ == nullptr) {
      *error = "x264_encoder_open failed (bad size or settings?)";
      return false;
    }
    x264_picture_init(&pic_);
    pic_.img.i_csp = X264_CSP_I420;
    pic_.img.i_plane = 3;
    return true;
  }

  bool Encode(const uint8_t* i420, int64_t index, bool force_keyframe, EncodedFrame* out,
              std::string* error) override {
    const int cw = (config_.width + 1) / 2;
    const int ch = (config_.height + 1) / 2;
    pic_.img.plane[0] = const_cast<uint8_t*>(i420);
    pic_.img.plane[1] = pic_.img.plane[0] + config_.width * config_.height;
    pic_.img.plane[2] = pic_.img.plane[1] + cw * ch;
    pic_.img.i_stride[0] = config_.width;
    pic_.img.i_stride[1] = cw;
    pic_.img.i_stride[2] = cw;
    pic_.i_pts = index;
    pic_.i_type = force_keyframe ? X264_TYPE_IDR : X264_TYPE_AUTO;
    x264_nal_t* nals = nullptr;
    int count = 0;
    x264_picture_t pic_out;
    const int size = x264_encoder_encode(encoder_, &nals, &count, &pic_, &pic_out);
    if (size < 0) {
      *error = "x264_encoder_encode failed";
      return false;
    }
    out->data.clear();
    out->keyframe = false;
    // The NAL payloads are contiguous (x264 guarantees it), start codes included.
    if (size > 0) out->data.assign(nals[0].p_payload, nals[0].p_payload + size);
    for (int i = 0; i < count; i++) {
      if (nals[i].i_type == NAL_SLICE_IDR) out->keyframe = true;
    }
    out->dropped = size == 0;
    return true;
  }

  bool SetBitrate(int kbps, std::string* error) override {
    ApplyBitrate(kbps);
    if (x264_encoder_reconfig(encoder_, &param_) < 0) {
      *error = "x264_encoder_reconfig failed";
      return false;
    }
    return true;
  }

  int level() const override { return level_; }

 private:
  static int LevelMaxKbps(int idc) {
    for (const x264_level_t* l = x264_levels; l->level_idc != 0; l++) {
      if (l->level_idc == idc) return static_cast<int>(l->bitrate);
    }
    return 0;
  }

  void ApplyBitrate(int kbps) {
    // Stay inside the level the SPS announces; a receiver sized its buffers for it.
    if (level_max_kbps_ > 0 && kbps > level_max_kbps_) kbps = level_max_kbps_;
    param_.rc.i_rc_method = X264_RC_ABR;
    param_.rc.i_bitrate = kbps;
    param_.rc.i_vbv_max_bitrate = kbps;
    param_.rc.i_vbv_buffer_size = kbps * config_.buffer_ms / 1000 > 1 ? kbps * config_.buffer_ms / 1000 : 1;
  }

  EncoderConfig config_;
  x264_param_t param_{};
  x264_picture_t pic_{};
  x264_t* encoder_ = nullptr;
  int level_ = 0;
  int level_max_kbps_ = 0;
};

}  // namespace

std::unique_ptr<VideoEncoderImpl> CreateH264Encoder() { return std::make_unique<H264Encoder>(); }

}  // namespace codec
