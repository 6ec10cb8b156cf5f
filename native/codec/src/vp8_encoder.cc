// VP8 through libvpx's own API, set up the way libwebrtc's LibvpxVp8Encoder sets it up for a
// single real-time stream: one pass, no lag (every input frame comes out at once), no alt-ref,
// CBR with libwebrtc's buffer sizes and over/undershoot, error-resilient entropy coding (a lost
// frame does not poison the probability tables of the following ones), static-threshold 1.
// Runtime control: VPX_EFLAG_FORCE_KF on the frame after a request; bitrate through
// vpx_codec_enc_config_set, which libvpx applies to the next frame (measured in
// native/codec/probe: libavcodec's libvpx wrapper in Debian's FFmpeg 5.1 ignores the same change,
// one reason this addon talks to libvpx directly).
#include <vpx/vp8cx.h>
#include <vpx/vpx_encoder.h>

#include "video_encoder_impl.h"

namespace codec {
namespace {

constexpr int kTimebase = 90000;

class Vp8Encoder : public VideoEncoderImpl {
 public:
  ~Vp8Encoder() override {
    if (open_) vpx_codec_destroy(&ctx_);
  }

  bool Init(const EncoderConfig& c, std::string* error) override {
    config_ = c;
    vpx_codec_err_t err = vpx_codec_enc_config_default(vpx_codec_vp8_cx(), &cfg_, 0);
    if (err != VPX_CODEC_OK) return Fail(error, "vpx_codec_enc_config_default", err);
    cfg_.g_w = c.width;
    cfg_.g_h = c.height;
    cfg_.g_timebase.num = 1;
    cfg_.g_timebase.den = kTimebase;
    cfg_.g_threads = c.threads;
    cfg_.g_pass = VPX_RC_ONE_PASS;
    cfg_.g_lag_in_frames = 0;
    cfg_.g_error_resilient = VPX_ERROR_RESILIENT_DEFAULT;
    cfg_.rc_end_usage = VPX_CBR;
    cfg_.rc_target_bitrate = c.bitrate_kbps;
    cfg_.rc_resize_allowed = 0;
    // libwebrtc's VP8 defaults: qp 2..56, undershoot 100 %, overshoot 15 %, buffer 500/600/1000 ms.
    cfg_.rc_min_quantizer = 2;
    cfg_.rc_max_quantizer = 56;
    cfg_.rc_undershoot_pct = 100;
    cfg_.rc_overshoot_pct = 15;
    cfg_.rc_buf_initial_sz = c.buffer_ms / 2;
    cfg_.rc_buf_optimal_sz = c.buffer_ms * 6 / 10;
    cfg_.rc_buf_sz = c.buffer_ms;
    cfg_.rc_dropframe_thresh = c.frame_dropping ? 30 : 0;
    cfg_.kf_mode = VPX_KF_AUTO;
    cfg_.kf_min_dist = 0;
    // kf_max_dist 0 would mean "every frame is a key frame": a huge distance means on request only.
    cfg_.kf_max_dist = c.keyframe_interval > 0 ? c.keyframe_interval : 100000;
    err = vpx_codec_enc_init(&ctx_, vpx_codec_vp8_cx(), &cfg_, 0);
    if (err != VPX_CODEC_OK) return Fail(error, "vpx_codec_enc_init", err);
    open_ = true;
    const int speed = c.vp8_speed != 0 ? c.vp8_speed : (c.width * c.height < 352 * 288 ? -4 : -6);
    unsigned partitions = VP8_ONE_TOKENPARTITION;
    if (c.vp8_token_partitions >= 8) {
      partitions = VP8_EIGHT_TOKENPARTITION;
    } else if (c.vp8_token_partitions >= 4) {
      partitions = VP8_FOUR_TOKENPARTITION;
    } else if (c.vp8_token_partitions >= 2) {
      partitions = VP8_TWO_TOKENPARTITION;
    }
    // A keyframe may take this % of an average frame: libwebrtc's MaxIntraTarget
    // (0.5 * optimal buffer * fps / 10, at least 300 %), so keyframes do not flood the link.
    unsigned max_intra = static_cast<unsigned>(cfg_.rc_buf_optimal_sz * 0.5 * c.fps / 10);
    if (max_intra < 300) max_intra = 300;
    if ((err = vpx_codec_control(&ctx_, VP8E_SET_CPUUSED, speed)) != VPX_CODEC_OK ||
        (err = vpx_codec_control(&ctx_, VP8E_SET_STATIC_THRESHOLD, 1U)) != VPX_CODEC_OK ||
        (err = vpx_codec_control(&ctx_, VP8E_SET_NOISE_SENSITIVITY, 0U)) != VPX_CODEC_OK ||
        (err = vpx_codec_control(&ctx_, VP8E_SET_ENABLEAUTOALTREF, 0U)) != VPX_CODEC_OK ||
        (err = vpx_codec_control(&ctx_, VP8E_SET_TOKEN_PARTITIONS, partitions)) != VPX_CODEC_OK ||
        (err = vpx_codec_control(&ctx_, VP8E_SET_MAX_INTRA_BITRATE_PCT, max_intra)) != VPX_CODEC_OK) {
      return Fail(error, "vpx_codec_control", err);
    }
    return true;
  }

  bool Encode(const uint8_t* i420, int64_t index, bool force_keyframe, EncodedFrame* out,
              std::string* error) override {
    vpx_image_t img;
    // Wraps the caller's packed planes, no copy (stride alignment 1).
    if (vpx_img_wrap(&img, VPX_IMG_FMT_I420, config_.width, config_.height, 1, const_cast<uint8_t*>(i420)) ==
        nullptr) {
      *error = "vpx_img_wrap failed";
      return false;
    }
    const int64_t duration = kTimebase / config_.fps;
    const vpx_enc_frame_flags_t flags = force_keyframe ? VPX_EFLAG_FORCE_KF : 0;
    vpx_codec_err_t err = vpx_codec_encode(&ctx_, &img, index * duration, duration, flags, VPX_DL_REALTIME);
    if (err != VPX_CODEC_OK) return Fail(error, "vpx_codec_encode", err);
    out->data.clear();
    out->keyframe = false;
    vpx_codec_iter_t iter = nullptr;
    const vpx_codec_cx_pkt_t* pkt = nullptr;
    while ((pkt = vpx_codec_get_cx_data(&ctx_, &iter)) != nullptr) {
      if (pkt->kind != VPX_CODEC_CX_FRAME_PKT) continue;
      const uint8_t* p = static_cast<const uint8_t*>(pkt->data.frame.buf);
      out->data.insert(out->data.end(), p, p + pkt->data.frame.sz);
      if (pkt->data.frame.flags & VPX_FRAME_IS_KEY) out->keyframe = true;
    }
    out->dropped = out->data.empty();
    return true;
  }

  bool SetBitrate(int kbps, std::string* error) override {
    cfg_.rc_target_bitrate = kbps;
    vpx_codec_err_t err = vpx_codec_enc_config_set(&ctx_, &cfg_);
    if (err != VPX_CODEC_OK) return Fail(error, "vpx_codec_enc_config_set", err);
    return true;
  }

 private:
  bool Fail(std::string* error, const char* what, vpx_codec_err_t err) {
    *error = std::string(what) + ": " + vpx_codec_err_to_string(err);
    if (open_) {
      const char* detail = vpx_codec_error_detail(&ctx_);
      if (detail != nullptr) *error += std::string(" (") + detail + ")";
    }
    return false;
  }

  EncoderConfig config_;
  vpx_codec_enc_cfg_t cfg_{};
  vpx_codec_ctx_t ctx_{};
  bool open_ = false;
};

}  // namespace

std::unique_ptr<VideoEncoderImpl> CreateVp8Encoder() { return std::make_unique<Vp8Encoder>(); }

}  // namespace codec
