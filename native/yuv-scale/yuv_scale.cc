// I420 scaling into a rectangle of a canvas, on Debian's libyuv: bilinear, with the source
// first halved by 2x2 averaging while it is more than twice the tile in both directions.
//
// One call scales the three planes of one tile. The caller (workers/media/engine/video/
// scaler.ts) computes all geometry -- crop, letterbox placement, odd chroma sizes -- and
// passes, per plane, where the source sub-rectangle and the destination sub-rectangle
// start and how big they are. Both are addressed in place through offsets and strides, so
// nothing is copied: libyuv reads the crop straight out of the decoded frame and writes
// straight into the canvas.
//
// The JS side validates before calling; the checks here repeat it because a wrong offset
// would be a memory error, not an exception. Nothing here throws: a bad call returns false
// and the caller counts the skipped tile, so the compositor's tick never unwinds.
#include <node_api.h>
#include <libyuv/scale.h>
#include <libyuv/version.h>

#include <stddef.h>
#include <stdint.h>

#include <vector>

namespace {

// Per plane: srcOffset, srcStride, srcWidth, srcHeight, dstOffset, dstStride, dstWidth, dstHeight.
constexpr size_t kPlaneFields = 8;
constexpr size_t kPlanes = 3;

struct Bytes {
  uint8_t* data = nullptr;
  size_t length = 0;
};

// Accepts Uint8Array and Uint8ClampedArray (wrtc hands out the latter). The pointer N-API
// returns already includes the view's byteOffset.
bool GetBytes(napi_env env, napi_value value, Bytes* out) {
  bool is_typed_array = false;
  if (napi_is_typedarray(env, value, &is_typed_array) != napi_ok || !is_typed_array) return false;
  napi_typedarray_type type;
  size_t length = 0;
  void* data = nullptr;
  if (napi_get_typedarray_info(env, value, &type, &length, &data, nullptr, nullptr) != napi_ok) return false;
  if (type != napi_uint8_array && type != napi_uint8_clamped_array) return false;
  // A detached buffer reports no data.
  if (data == nullptr || length == 0) return false;
  out->data = static_cast<uint8_t*>(data);
  out->length = length;
  return true;
}

bool GetGeometry(napi_env env, napi_value value, const int32_t** out) {
  bool is_typed_array = false;
  if (napi_is_typedarray(env, value, &is_typed_array) != napi_ok || !is_typed_array) return false;
  napi_typedarray_type type;
  size_t length = 0;
  void* data = nullptr;
  if (napi_get_typedarray_info(env, value, &type, &length, &data, nullptr, nullptr) != napi_ok) return false;
  if (type != napi_int32_array || length < kPlanes * kPlaneFields || data == nullptr) return false;
  *out = static_cast<const int32_t*>(data);
  return true;
}

// True when every byte of a width x height block at offset with this stride lies in the buffer.
// 64-bit arithmetic: the int32 inputs cannot overflow it.
bool BlockFits(int64_t offset, int64_t stride, int64_t width, int64_t height, size_t length) {
  if (offset < 0 || width < 1 || height < 1 || stride < width) return false;
  return offset + (height - 1) * stride + width <= static_cast<int64_t>(length);
}

// The halved levels of one plane. thread_local: a process may load the addon in more than one
// thread. It only grows, to the largest source seen, so a steady tick allocates nothing.
thread_local std::vector<uint8_t> scratch;

// Bilinear alone reads 2x2 source samples per output sample whatever the ratio, so a tile
// shrunk 3x or 4x (every tile of the 320x180 `low` composite, a 3x3 grid of 640x360
// sources) is point-sampled: fine detail aliases and a 4x shrink keeps half the sensor's
// noise instead of a quarter, which the profile's small encoder budget pays for in dropped frames
// (docs/engine-kernels.md, "Area averaging"). Halving first with a rounded 2x2 box while
// both axes shrink by more than 2x makes every output sample an average of the area it
// covers (a mip-map), and leaves a flat colour exact. libyuv's own kFilterBox area path
// would do it in one pass but truncates its averages (flat 92 -> 91).
void ScaleArea(const uint8_t* src, int src_stride, int src_w, int src_h, uint8_t* dst, int dst_stride,
               int dst_w, int dst_h) {
  size_t need = 0;
  for (int w = src_w, h = src_h; w > 2 * dst_w && h > 2 * dst_h;) {
    w = (w + 1) / 2;
    h = (h + 1) / 2;
    need += static_cast<size_t>(w) * h;
  }
  if (scratch.size() < need) scratch.resize(need);
  uint8_t* level = scratch.data();
  while (src_w > 2 * dst_w && src_h > 2 * dst_h) {
    const int w = (src_w + 1) / 2;
    const int h = (src_h + 1) / 2;
    // An even size takes libyuv's exact 1/2 path (rounded 2x2 box); an odd one its bilinear
    // path at a ratio just under 2, which is a two-tap average too.
    libyuv::ScalePlane(src, src_stride, src_w, src_h, level, w, w, h, libyuv::kFilterBilinear);
    src = level;
    src_stride = w;
    src_w = w;
    src_h = h;
    level += static_cast<size_t>(w) * h;
  }
  libyuv::ScalePlane(src, src_stride, src_w, src_h, dst, dst_stride, dst_w, dst_h, libyuv::kFilterBilinear);
}

napi_value ReturnBool(napi_env env, bool value) {
  napi_value result = nullptr;
  napi_get_boolean(env, value, &result);
  return result;
}

// scaleI420(src, dst, geometry): boolean
napi_value ScaleI420(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok || argc < 3) {
    return ReturnBool(env, false);
  }
  Bytes src;
  Bytes dst;
  const int32_t* g = nullptr;
  if (!GetBytes(env, argv[0], &src) || !GetBytes(env, argv[1], &dst) || !GetGeometry(env, argv[2], &g)) {
    return ReturnBool(env, false);
  }
  // Validate all three planes before touching any, so a bad call leaves the canvas as it was.
  for (size_t p = 0; p < kPlanes; p++) {
    const int32_t* f = g + p * kPlaneFields;
    if (!BlockFits(f[0], f[1], f[2], f[3], src.length) || !BlockFits(f[4], f[5], f[6], f[7], dst.length)) {
      return ReturnBool(env, false);
    }
  }
  for (size_t p = 0; p < kPlanes; p++) {
    const int32_t* f = g + p * kPlaneFields;
    ScaleArea(src.data + f[0], f[1], f[2], f[3], dst.data + f[4], f[5], f[6], f[7]);
  }
  return ReturnBool(env, true);
}

napi_value Init(napi_env env, napi_value exports) {
  napi_value fn = nullptr;
  napi_value version = nullptr;
  if (napi_create_function(env, "scaleI420", NAPI_AUTO_LENGTH, ScaleI420, nullptr, &fn) != napi_ok ||
      napi_set_named_property(env, exports, "scaleI420", fn) != napi_ok ||
      napi_create_int32(env, LIBYUV_VERSION, &version) != napi_ok ||
      napi_set_named_property(env, exports, "libyuvVersion", version) != napi_ok) {
    napi_throw_error(env, nullptr, "yuv_scale: module initialisation failed");
    return nullptr;
  }
  return exports;
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
