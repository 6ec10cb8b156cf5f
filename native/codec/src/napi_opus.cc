// JS classes OpusEncoder(options) and OpusDecoder(options): libopus, synchronous.
// A 10 or 20 ms frame costs tens of microseconds (bench/micro/codecs.ts), less than handing it
// to another thread and back would, so these run on the caller's thread. The caller passes the
// output array, so nothing is allocated per frame.
//   OpusEncoder.encode(pcm: Int16Array, out: Uint8Array) -> bytes written (≤ 2: a DTX frame)
//   OpusEncoder.setBitrate(bps), setPacketLossPercent(pct), close()
//   OpusDecoder.decode(packet: Uint8Array | null, out: Int16Array, fec: boolean) -> samples per
//       channel. packet null: packet loss concealment for out.length / channels samples.
//       fec true: recover the frame *before* `packet` from its in-band FEC data.
//   OpusDecoder.close()
#include <opus.h>

#include "napi_helpers.h"

namespace codec {
namespace {

const napi_type_tag kOpusEncoderTag = {0x6d63755f6f707573ULL, 0x0000000000000003ULL};
const napi_type_tag kOpusDecoderTag = {0x6d63755f6f707573ULL, 0x0000000000000004ULL};

struct OpusEnc {
  OpusEncoder* enc = nullptr;
  int channels = 1;
  int sample_rate = 48000;
  ~OpusEnc() {
    if (enc != nullptr) opus_encoder_destroy(enc);
  }
};

struct OpusDec {
  OpusDecoder* dec = nullptr;
  int channels = 1;
  int sample_rate = 48000;
  ~OpusDec() {
    if (dec != nullptr) opus_decoder_destroy(dec);
  }
};

template <typename T>
void Finalize(napi_env, void* data, void*) {
  delete static_cast<T*>(data);
}

template <typename T>
T* Unwrap(napi_env env, napi_value self, const napi_type_tag* tag, const char* name) {
  bool tagged = false;
  void* p = nullptr;
  if (napi_check_object_type_tag(env, self, tag, &tagged) != napi_ok || !tagged ||
      napi_unwrap(env, self, &p) != napi_ok) {
    ThrowType(env, std::string("not an ") + name);
    return nullptr;
  }
  return static_cast<T*>(p);
}

bool ValidRate(int rate) {
  return rate == 8000 || rate == 12000 || rate == 16000 || rate == 24000 || rate == 48000;
}

// Opus frames are 2.5, 5, 10, 20, 40 or 60 ms.
bool ValidFrame(int rate, size_t samples) {
  const size_t unit = static_cast<size_t>(rate) / 400;  // 2.5 ms
  return samples > 0 && samples % unit == 0 &&
         (samples / unit == 1 || samples / unit == 2 || samples / unit == 4 || samples / unit == 8 ||
          samples / unit == 16 || samples / unit == 24);
}

napi_value OpusError(napi_env env, const char* what, int err) {
  return Throw(env, std::string(what) + ": " + opus_strerror(err));
}

napi_value EncNew(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  napi_value self = nullptr;
  if (!Args(env, info, 1, argv, &self)) return nullptr;
  int32_t rate = 48000, channels = 1, bitrate = 32000, complexity = 10, loss = 0;
  bool fec = false, dtx = false;
  std::string application = "voip";
  if (!OptInt(env, argv[0], "sampleRate", &rate) || !OptInt(env, argv[0], "channels", &channels) ||
      !OptInt(env, argv[0], "bitrateBps", &bitrate) || !OptInt(env, argv[0], "complexity", &complexity) ||
      !OptInt(env, argv[0], "packetLossPercent", &loss) || !OptBool(env, argv[0], "fec", &fec) ||
      !OptBool(env, argv[0], "dtx", &dtx) || !OptString(env, argv[0], "application", &application)) {
    return ThrowType(env, "OpusEncoder: bad options");
  }
  int app = OPUS_APPLICATION_VOIP;
  if (application == "audio") {
    app = OPUS_APPLICATION_AUDIO;
  } else if (application == "lowdelay") {
    app = OPUS_APPLICATION_RESTRICTED_LOWDELAY;
  } else if (application != "voip") {
    return ThrowType(env, "OpusEncoder: application must be voip, audio or lowdelay");
  }
  if (!ValidRate(rate) || (channels != 1 && channels != 2) || complexity < 0 || complexity > 10 || loss < 0 ||
      loss > 100 || bitrate < 500 || bitrate > 512000) {
    return ThrowType(env, "OpusEncoder: option out of range");
  }
  int err = OPUS_OK;
  auto* s = new OpusEnc();
  s->channels = channels;
  s->sample_rate = rate;
  s->enc = opus_encoder_create(rate, channels, app, &err);
  if (err != OPUS_OK || s->enc == nullptr) {
    delete s;
    return OpusError(env, "opus_encoder_create", err);
  }
  if ((err = opus_encoder_ctl(s->enc, OPUS_SET_BITRATE(bitrate))) != OPUS_OK ||
      (err = opus_encoder_ctl(s->enc, OPUS_SET_COMPLEXITY(complexity))) != OPUS_OK ||
      (err = opus_encoder_ctl(s->enc, OPUS_SET_INBAND_FEC(fec ? 1 : 0))) != OPUS_OK ||
      (err = opus_encoder_ctl(s->enc, OPUS_SET_PACKET_LOSS_PERC(loss))) != OPUS_OK ||
      (err = opus_encoder_ctl(s->enc, OPUS_SET_DTX(dtx ? 1 : 0))) != OPUS_OK) {
    delete s;
    return OpusError(env, "opus_encoder_ctl", err);
  }
  if (napi_type_tag_object(env, self, &kOpusEncoderTag) != napi_ok ||
      napi_wrap(env, self, s, Finalize<OpusEnc>, nullptr, nullptr) != napi_ok) {
    delete s;
    return Throw(env, "OpusEncoder: wrap failed");
  }
  return self;
}

napi_value EncEncode(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  napi_value self = nullptr;
  if (!Args(env, info, 2, argv, &self)) return nullptr;
  OpusEnc* s = Unwrap<OpusEnc>(env, self, &kOpusEncoderTag, "OpusEncoder");
  if (s == nullptr) return nullptr;
  if (s->enc == nullptr) return Throw(env, "OpusEncoder is closed");
  int16_t* pcm = nullptr;
  size_t samples = 0;
  Bytes out;
  if (!GetInt16(env, argv[0], &pcm, &samples) || !GetBytes(env, argv[1], &out) || out.length == 0) {
    return ThrowType(env, "encode(pcm: Int16Array, out: Uint8Array)");
  }
  if (samples % s->channels != 0 || !ValidFrame(s->sample_rate, samples / s->channels)) {
    return ThrowType(env, "encode: pcm must hold 2.5/5/10/20/40/60 ms of interleaved samples");
  }
  const opus_int32 max = out.length > 0x7fffffff ? 0x7fffffff : static_cast<opus_int32>(out.length);
  const int n = opus_encode(s->enc, pcm, static_cast<int>(samples / s->channels), out.data, max);
  if (n < 0) return OpusError(env, "opus_encode", n);
  return Int(env, n);
}

napi_value EncCtl(napi_env env, napi_callback_info info, bool bitrate) {
  napi_value argv[1];
  napi_value self = nullptr;
  if (!Args(env, info, 1, argv, &self)) return nullptr;
  OpusEnc* s = Unwrap<OpusEnc>(env, self, &kOpusEncoderTag, "OpusEncoder");
  if (s == nullptr) return nullptr;
  if (s->enc == nullptr) return Throw(env, "OpusEncoder is closed");
  int32_t value = 0;
  if (!GetInt32(env, argv[0], &value)) return ThrowType(env, "expected a number");
  const int err = bitrate ? opus_encoder_ctl(s->enc, OPUS_SET_BITRATE(value))
                          : opus_encoder_ctl(s->enc, OPUS_SET_PACKET_LOSS_PERC(value));
  if (err != OPUS_OK) return OpusError(env, "opus_encoder_ctl", err);
  return Undefined(env);
}

napi_value EncSetBitrate(napi_env env, napi_callback_info info) { return EncCtl(env, info, true); }
napi_value EncSetLoss(napi_env env, napi_callback_info info) { return EncCtl(env, info, false); }

napi_value EncClose(napi_env env, napi_callback_info info) {
  napi_value self = nullptr;
  if (!Args(env, info, 0, nullptr, &self)) return nullptr;
  OpusEnc* s = Unwrap<OpusEnc>(env, self, &kOpusEncoderTag, "OpusEncoder");
  if (s == nullptr) return nullptr;
  if (s->enc != nullptr) opus_encoder_destroy(s->enc);
  s->enc = nullptr;
  return Undefined(env);
}

napi_value DecNew(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  napi_value self = nullptr;
  if (!Args(env, info, 1, argv, &self)) return nullptr;
  int32_t rate = 48000, channels = 1;
  if (!OptInt(env, argv[0], "sampleRate", &rate) || !OptInt(env, argv[0], "channels", &channels)) {
    return ThrowType(env, "OpusDecoder: bad options");
  }
  if (!ValidRate(rate) || (channels != 1 && channels != 2)) return ThrowType(env, "OpusDecoder: option out of range");
  int err = OPUS_OK;
  auto* s = new OpusDec();
  s->channels = channels;
  s->sample_rate = rate;
  s->dec = opus_decoder_create(rate, channels, &err);
  if (err != OPUS_OK || s->dec == nullptr) {
    delete s;
    return OpusError(env, "opus_decoder_create", err);
  }
  if (napi_type_tag_object(env, self, &kOpusDecoderTag) != napi_ok ||
      napi_wrap(env, self, s, Finalize<OpusDec>, nullptr, nullptr) != napi_ok) {
    delete s;
    return Throw(env, "OpusDecoder: wrap failed");
  }
  return self;
}

napi_value DecDecode(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  napi_value self = nullptr;
  if (!Args(env, info, 3, argv, &self)) return nullptr;
  OpusDec* s = Unwrap<OpusDec>(env, self, &kOpusDecoderTag, "OpusDecoder");
  if (s == nullptr) return nullptr;
  if (s->dec == nullptr) return Throw(env, "OpusDecoder is closed");
  Bytes packet;
  const bool lost = IsNullish(env, argv[0]);
  int16_t* pcm = nullptr;
  size_t samples = 0;
  bool fec = false;
  if ((!lost && !GetBytes(env, argv[0], &packet)) || !GetInt16(env, argv[1], &pcm, &samples) ||
      !(IsNullish(env, argv[2]) || GetBool(env, argv[2], &fec))) {
    return ThrowType(env, "decode(packet: Uint8Array | null, out: Int16Array, fec?: boolean)");
  }
  const size_t frame = samples / s->channels;
  // Concealment and FEC produce exactly the requested duration, which must be a frame size.
  if ((lost || fec) && !ValidFrame(s->sample_rate, frame)) {
    return ThrowType(env, "decode: out must hold a whole Opus frame duration for PLC/FEC");
  }
  const int n = opus_decode(s->dec, lost ? nullptr : packet.data, lost ? 0 : static_cast<opus_int32>(packet.length),
                            pcm, static_cast<int>(frame), fec ? 1 : 0);
  if (n < 0) return OpusError(env, "opus_decode", n);
  return Int(env, n);
}

napi_value DecClose(napi_env env, napi_callback_info info) {
  napi_value self = nullptr;
  if (!Args(env, info, 0, nullptr, &self)) return nullptr;
  OpusDec* s = Unwrap<OpusDec>(env, self, &kOpusDecoderTag, "OpusDecoder");
  if (s == nullptr) return nullptr;
  if (s->dec != nullptr) opus_decoder_destroy(s->dec);
  s->dec = nullptr;
  return Undefined(env);
}

}  // namespace

bool RegisterOpus(napi_env env, napi_value exports) {
  static const Method enc[] = {
      {"encode", EncEncode}, {"setBitrate", EncSetBitrate}, {"setPacketLossPercent", EncSetLoss}, {"close", EncClose}};
  static const Method dec[] = {{"decode", DecDecode}, {"close", DecClose}};
  return DefineClass(env, exports, "OpusEncoder", EncNew, enc, sizeof enc / sizeof enc[0]) &&
         DefineClass(env, exports, "OpusDecoder", DecNew, dec, sizeof dec / sizeof dec[0]);
}

}  // namespace codec
