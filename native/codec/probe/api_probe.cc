// Measurement probe behind the choice documented in docs/codecs.md: drive libvpx and libx264
// either directly or through libavcodec's wrappers (libavcodec "libvpx" / "libx264") with the
// same real-time settings, and report per configuration:
//   - CPU ms per frame (process CPU time, so helper threads count) and wall ms per frame;
//   - whether a keyframe requested at frame K comes out as frame K (keyframe on demand);
//   - whether halving the bitrate at run time halves the output (bytes/s before vs after).
// Not part of the addon. Build and run (see docs/codecs.md):
//   g++ -O2 -std=c++17 native/codec/probe/api_probe.cc -o /tmp/api_probe $(pkg-config --cflags
//       --libs vpx x264 libavcodec libavutil) && /tmp/api_probe [frames]
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <string>
#include <vector>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavutil/opt.h>
#include <vpx/vp8cx.h>
#include <vpx/vpx_encoder.h>
#include <x264.h>
}

namespace {

double Now(clockid_t clock) {
  timespec ts;
  clock_gettime(clock, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

// Busy content: a scrolling texture, a moving block and some noise, like a camera composite.
void Paint(std::vector<uint8_t>& f, int w, int h, int t) {
  uint32_t seed = 12345u + t * 7919u;
  uint8_t* y = f.data();
  for (int r = 0; r < h; r++) {
    for (int c = 0; c < w; c++) {
      seed = seed * 1103515245u + 12345u;
      int v = ((c + 3 * t) * 5 ^ (r + t) * 3) & 0xff;
      y[r * w + c] = static_cast<uint8_t>((v * 3 / 4) + ((seed >> 24) & 7));
    }
  }
  int bx = (t * 7) % (w / 2), by = (t * 3) % (h / 2);
  for (int r = by; r < by + h / 4; r++) memset(y + r * w + bx, 235, w / 4);
  uint8_t* u = y + w * h;
  uint8_t* v = u + (w / 2) * (h / 2);
  for (int r = 0; r < h / 2; r++) {
    for (int c = 0; c < w / 2; c++) {
      u[r * (w / 2) + c] = static_cast<uint8_t>(128 + ((c + t) & 63) - 32);
      v[r * (w / 2) + c] = static_cast<uint8_t>(128 + ((r + 2 * t) & 63) - 32);
    }
  }
}

struct Result {
  double cpu_ms = 0, wall_ms = 0;
  bool kf_on_demand = false;
  double kbps_before = 0, kbps_after = 0;
};

// Interface over the four encoders.
struct Enc {
  virtual ~Enc() {}
  // Returns encoded size, sets key.
  virtual size_t Encode(const uint8_t* i420, int64_t pts, bool force_key, bool* key) = 0;
  virtual void SetBitrate(int kbps) = 0;
  double psnr_sum = 0;  // luma+chroma average PSNR of every frame (direct encoders only)
  int psnr_n = 0;
};

struct VpxDirect : Enc {
  vpx_codec_ctx_t ctx;
  vpx_codec_enc_cfg_t cfg;
  vpx_image_t img;
  int w, h;
  VpxDirect(int w_, int h_, int fps, int kbps, int speed = 0) : w(w_), h(h_) {
    vpx_codec_enc_config_default(vpx_codec_vp8_cx(), &cfg, 0);
    cfg.g_w = w;
    cfg.g_h = h;
    cfg.g_timebase = {1, 90000};
    cfg.g_threads = 1;
    cfg.g_lag_in_frames = 0;
    cfg.g_error_resilient = VPX_ERROR_RESILIENT_DEFAULT;
    cfg.rc_end_usage = VPX_CBR;
    cfg.rc_target_bitrate = kbps;
    cfg.rc_min_quantizer = 2;
    cfg.rc_max_quantizer = 56;
    cfg.rc_undershoot_pct = 100;
    cfg.rc_overshoot_pct = 15;
    cfg.rc_buf_initial_sz = 500;
    cfg.rc_buf_optimal_sz = 600;
    cfg.rc_buf_sz = 1000;
    cfg.rc_dropframe_thresh = 0;
    cfg.kf_mode = VPX_KF_AUTO;
    cfg.kf_max_dist = 3000;
    (void)fps;
    if (vpx_codec_enc_init(&ctx, vpx_codec_vp8_cx(), &cfg, VPX_CODEC_USE_PSNR)) abort();
    vpx_codec_control(&ctx, VP8E_SET_CPUUSED, speed != 0 ? speed : w * h < 352 * 288 ? -4 : -6);
    vpx_codec_control(&ctx, VP8E_SET_STATIC_THRESHOLD, 1);
    vpx_codec_control(&ctx, VP8E_SET_NOISE_SENSITIVITY, 0);
    vpx_codec_control(&ctx, VP8E_SET_ENABLEAUTOALTREF, 0);
    vpx_codec_control(&ctx, VP8E_SET_TOKEN_PARTITIONS, VP8_ONE_TOKENPARTITION);
    vpx_codec_control(&ctx, VP8E_SET_MAX_INTRA_BITRATE_PCT, 450);
  }
  ~VpxDirect() { vpx_codec_destroy(&ctx); }
  size_t Encode(const uint8_t* f, int64_t pts, bool force_key, bool* key) override {
    vpx_img_wrap(&img, VPX_IMG_FMT_I420, w, h, 1, const_cast<uint8_t*>(f));
    if (vpx_codec_encode(&ctx, &img, pts, 6000, force_key ? VPX_EFLAG_FORCE_KF : 0, VPX_DL_REALTIME)) abort();
    size_t n = 0;
    *key = false;
    vpx_codec_iter_t it = nullptr;
    const vpx_codec_cx_pkt_t* p;
    while ((p = vpx_codec_get_cx_data(&ctx, &it))) {
      if (p->kind == VPX_CODEC_PSNR_PKT) {
        psnr_sum += p->data.psnr.psnr[0];
        psnr_n++;
      }
      if (p->kind != VPX_CODEC_CX_FRAME_PKT) continue;
      n += p->data.frame.sz;
      *key = *key || (p->data.frame.flags & VPX_FRAME_IS_KEY);
    }
    return n;
  }
  void SetBitrate(int kbps) override {
    cfg.rc_target_bitrate = kbps;
    if (vpx_codec_enc_config_set(&ctx, &cfg)) abort();
  }
};

struct X264Direct : Enc {
  x264_t* enc;
  x264_param_t p;
  x264_picture_t pic, out;
  int w, h;
  X264Direct(int w_, int h_, int fps, int kbps, const char* preset) : w(w_), h(h_) {
    x264_param_default_preset(&p, preset, "zerolatency");
    p.i_threads = 1;
    p.i_width = w;
    p.i_height = h;
    p.i_csp = X264_CSP_I420;
    p.i_fps_num = fps;
    p.i_fps_den = 1;
    p.i_keyint_max = 3000;
    p.b_repeat_headers = 1;
    p.b_annexb = 1;
    p.rc.i_rc_method = X264_RC_ABR;
    p.rc.i_bitrate = kbps;
    p.rc.i_vbv_max_bitrate = kbps;
    p.rc.i_vbv_buffer_size = kbps;  // one second
    // x264 computes PSNR only at log level INFO or above; the log callback discards the lines.
    p.i_log_level = X264_LOG_INFO;
    p.pf_log = [](void*, int, const char*, va_list) {};
    p.analyse.b_psnr = 1;
    x264_param_apply_profile(&p, "baseline");
    enc = x264_encoder_open(&p);
    if (!enc) abort();
    x264_picture_init(&pic);
    pic.img.i_csp = X264_CSP_I420;
    pic.img.i_plane = 3;
  }
  ~X264Direct() { x264_encoder_close(enc); }
  size_t Encode(const uint8_t* f, int64_t pts, bool force_key, bool* key) override {
    pic.img.plane[0] = const_cast<uint8_t*>(f);
    pic.img.plane[1] = pic.img.plane[0] + w * h;
    pic.img.plane[2] = pic.img.plane[1] + w * h / 4;
    pic.img.i_stride[0] = w;
    pic.img.i_stride[1] = pic.img.i_stride[2] = w / 2;
    pic.i_pts = pts;
    pic.i_type = force_key ? X264_TYPE_IDR : X264_TYPE_AUTO;
    x264_nal_t* nals;
    int nn;
    int n = x264_encoder_encode(enc, &nals, &nn, &pic, &out);
    if (n < 0) abort();
    *key = out.b_keyframe;
    if (n > 0) {
      psnr_sum += out.prop.f_psnr_avg;
      psnr_n++;
    }
    return n;
  }
  void SetBitrate(int kbps) override {
    p.rc.i_bitrate = kbps;
    p.rc.i_vbv_max_bitrate = kbps;
    p.rc.i_vbv_buffer_size = kbps;
    if (x264_encoder_reconfig(enc, &p) < 0) abort();
  }
};

struct Lavc : Enc {
  AVCodecContext* c;
  AVFrame* fr;
  AVPacket* pkt;
  int w, h;
  Lavc(const char* name, int w_, int h_, int fps, int kbps, const char* preset) : w(w_), h(h_) {
    const AVCodec* codec = avcodec_find_encoder_by_name(name);
    c = avcodec_alloc_context3(codec);
    c->width = w;
    c->height = h;
    c->pix_fmt = AV_PIX_FMT_YUV420P;
    c->time_base = {1, 90000};
    c->framerate = {fps, 1};
    c->bit_rate = kbps * 1000LL;
    c->rc_max_rate = kbps * 1000LL;
    c->rc_buffer_size = kbps * 1000;
    c->gop_size = 3000;
    c->max_b_frames = 0;
    c->thread_count = 1;
    AVDictionary* o = nullptr;
    if (!strcmp(name, "libvpx")) {
      c->qmin = 2;
      c->qmax = 56;
      av_dict_set(&o, "deadline", "realtime", 0);
      av_dict_set(&o, "cpu-used", w * h < 352 * 288 ? "-4" : "-6", 0);
      av_dict_set(&o, "lag-in-frames", "0", 0);
      av_dict_set(&o, "auto-alt-ref", "0", 0);
      av_dict_set(&o, "error-resilient", "default", 0);
      av_dict_set(&o, "static-thresh", "1", 0);
      av_dict_set(&o, "max-intra-rate", "450", 0);
      av_dict_set(&o, "undershoot-pct", "100", 0);
      av_dict_set(&o, "overshoot-pct", "15", 0);
      c->rc_initial_buffer_occupancy = kbps * 500;
    } else {
      av_dict_set(&o, "preset", preset, 0);
      av_dict_set(&o, "tune", "zerolatency", 0);
      av_dict_set(&o, "profile", "baseline", 0);
      av_dict_set(&o, "forced-idr", "1", 0);
    }
    av_log_set_level(AV_LOG_QUIET);
    if (avcodec_open2(c, codec, &o) < 0) abort();
    av_dict_free(&o);
    fr = av_frame_alloc();
    pkt = av_packet_alloc();
  }
  ~Lavc() {
    av_frame_free(&fr);
    av_packet_free(&pkt);
    avcodec_free_context(&c);
  }
  size_t Encode(const uint8_t* f, int64_t pts, bool force_key, bool* key) override {
    av_frame_unref(fr);
    fr->format = AV_PIX_FMT_YUV420P;
    fr->width = w;
    fr->height = h;
    fr->data[0] = const_cast<uint8_t*>(f);
    fr->data[1] = fr->data[0] + w * h;
    fr->data[2] = fr->data[1] + w * h / 4;
    fr->linesize[0] = w;
    fr->linesize[1] = fr->linesize[2] = w / 2;
    fr->pts = pts;
    fr->pict_type = force_key ? AV_PICTURE_TYPE_I : AV_PICTURE_TYPE_NONE;
    if (avcodec_send_frame(c, fr) < 0) abort();
    size_t n = 0;
    *key = false;
    while (avcodec_receive_packet(c, pkt) == 0) {
      n += pkt->size;
      *key = *key || (pkt->flags & AV_PKT_FLAG_KEY);
      av_packet_unref(pkt);
    }
    return n;
  }
  void SetBitrate(int kbps) override {
    c->bit_rate = kbps * 1000LL;
    c->rc_max_rate = kbps * 1000LL;
    c->rc_buffer_size = kbps * 1000;
  }
};

Result Run(Enc* e, int w, int h, int fps, int kbps, int frames) {
  std::vector<uint8_t> f(w * h * 3 / 2);
  Result r;
  const int kf_at = frames / 3;
  const int switch_at = frames / 2;
  double bytes_before = 0, bytes_after = 0;
  double cpu = 0, wall = 0;
  for (int i = 0; i < frames; i++) {
    Paint(f, w, h, i);
    if (i == switch_at) e->SetBitrate(kbps / 2);
    bool key = false;
    double c0 = Now(CLOCK_PROCESS_CPUTIME_ID), w0 = Now(CLOCK_MONOTONIC);
    size_t n = e->Encode(f.data(), static_cast<int64_t>(i) * 90000 / fps, i == kf_at, &key);
    cpu += Now(CLOCK_PROCESS_CPUTIME_ID) - c0;
    wall += Now(CLOCK_MONOTONIC) - w0;
    if (i == kf_at) r.kf_on_demand = key;
    // Skip the first second (initial keyframe, rate control settling) and one second after the switch.
    if (i >= fps && i < switch_at) bytes_before += n;
    if (i >= switch_at + fps) bytes_after += n;
  }
  r.cpu_ms = cpu / frames;
  r.wall_ms = wall / frames;
  r.kbps_before = bytes_before * 8 / 1000 / ((switch_at - fps) / static_cast<double>(fps));
  r.kbps_after = bytes_after * 8 / 1000 / ((frames - switch_at - fps) / static_cast<double>(fps));
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  int frames = argc > 1 ? atoi(argv[1]) : 240;
  struct P {
    int w, h, fps, kbps;
  } profiles[] = {{320, 180, 15, 120}, {640, 360, 15, 550}, {1280, 720, 30, 1700}};
  printf("%-26s %-10s %8s %8s %6s %9s %9s %6s\n", "encoder", "profile", "cpu ms", "wall ms", "kf", "kbps", "kbps/2",
         "psnr");
  for (const P& p : profiles) {
    char prof[32];
    snprintf(prof, sizeof prof, "%dx%d@%d", p.w, p.h, p.fps);
    struct Named {
      std::string name;
      Enc* e;
    } encs[] = {
        {"vp8 libvpx direct", new VpxDirect(p.w, p.h, p.fps, p.kbps)},
        {"vp8 libvpx direct -10", new VpxDirect(p.w, p.h, p.fps, p.kbps, -10)},
        {"vp8 lavc(libvpx)", new Lavc("libvpx", p.w, p.h, p.fps, p.kbps, nullptr)},
        {"h264 x264 direct ultrafast", new X264Direct(p.w, p.h, p.fps, p.kbps, "ultrafast")},
        {"h264 x264 direct superfast", new X264Direct(p.w, p.h, p.fps, p.kbps, "superfast")},
        {"h264 x264 direct veryfast", new X264Direct(p.w, p.h, p.fps, p.kbps, "veryfast")},
        {"h264 lavc(libx264) superf", new Lavc("libx264", p.w, p.h, p.fps, p.kbps, "superfast")},
    };
    for (auto& n : encs) {
      Result r = Run(n.e, p.w, p.h, p.fps, p.kbps, frames);
      printf("%-26s %-10s %8.2f %8.2f %6s %9.0f %9.0f %6.1f\n", n.name.c_str(), prof, r.cpu_ms, r.wall_ms,
             r.kf_on_demand ? "yes" : "NO", r.kbps_before, r.kbps_after,
             n.e->psnr_n > 0 ? n.e->psnr_sum / n.e->psnr_n : 0.0);
      delete n.e;
    }
  }
  return 0;
}
