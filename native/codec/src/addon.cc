// Entry point of the codec addon: video encoders (VP8 via libvpx, H.264 via libx264), video
// decoders (H.264 and VP8 via libavcodec) and Opus (libopus), for the media worker to encode
// a room's composite once per profile and codec (docs/codecs.md).
#include <stdint.h>

#include <string>

#include <opus.h>
#include <vpx/vpx_codec.h>
#include <x264.h>

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavutil/log.h>
}

#include "napi_helpers.h"

namespace codec {
bool RegisterVideoEncoder(napi_env env, napi_value exports);
bool RegisterVideoDecoder(napi_env env, napi_value exports);
bool RegisterOpus(napi_env env, napi_value exports);
}  // namespace codec

namespace {

napi_value Versions(napi_env env) {
  napi_value o = nullptr;
  napi_create_object(env, &o);
  const unsigned lavc = avcodec_version();
  const std::string lavc_version =
      std::to_string(lavc >> 16) + "." + std::to_string((lavc >> 8) & 0xff) + "." + std::to_string(lavc & 0xff);
  napi_set_named_property(env, o, "libvpx", codec::String(env, vpx_codec_version_str()));
  napi_set_named_property(env, o, "x264", codec::String(env, std::to_string(X264_BUILD)));
  napi_set_named_property(env, o, "libavcodec", codec::String(env, lavc_version));
  napi_set_named_property(env, o, "libopus", codec::String(env, opus_get_version_string()));
  return o;
}

napi_value Init(napi_env env, napi_value exports) {
  // libavcodec logs concealment details to stderr; the decoder reports them as statuses.
  av_log_set_level(AV_LOG_QUIET);
  if (!codec::RegisterVideoEncoder(env, exports) || !codec::RegisterVideoDecoder(env, exports) ||
      !codec::RegisterOpus(env, exports) ||
      napi_set_named_property(env, exports, "versions", Versions(env)) != napi_ok) {
    napi_throw_error(env, nullptr, "codec: module initialisation failed");
    return nullptr;
  }
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
