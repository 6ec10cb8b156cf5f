#include "napi_helpers.h"

#include <vector>

namespace codec {

bool GetBytes(napi_env env, napi_value value, Bytes* out) {
  bool is_typed_array = false;
  if (napi_is_typedarray(env, value, &is_typed_array) != napi_ok || !is_typed_array) return false;
  napi_typedarray_type type;
  size_t length = 0;
  void* data = nullptr;
  if (napi_get_typedarray_info(env, value, &type, &length, &data, nullptr, nullptr) != napi_ok) return false;
  if (type != napi_uint8_array && type != napi_uint8_clamped_array) return false;
  // A detached buffer reports no data; an empty view is allowed (length 0) but has no pointer.
  if (data == nullptr && length != 0) return false;
  out->data = static_cast<uint8_t*>(data);
  out->length = length;
  return true;
}

bool GetInt16(napi_env env, napi_value value, int16_t** data, size_t* length) {
  bool is_typed_array = false;
  if (napi_is_typedarray(env, value, &is_typed_array) != napi_ok || !is_typed_array) return false;
  napi_typedarray_type type;
  void* ptr = nullptr;
  if (napi_get_typedarray_info(env, value, &type, length, &ptr, nullptr, nullptr) != napi_ok) return false;
  if (type != napi_int16_array || ptr == nullptr) return false;
  *data = static_cast<int16_t*>(ptr);
  return true;
}

bool GetInt32(napi_env env, napi_value value, int32_t* out) {
  napi_valuetype t;
  if (napi_typeof(env, value, &t) != napi_ok || t != napi_number) return false;
  return napi_get_value_int32(env, value, out) == napi_ok;
}

bool GetDouble(napi_env env, napi_value value, double* out) {
  napi_valuetype t;
  if (napi_typeof(env, value, &t) != napi_ok || t != napi_number) return false;
  return napi_get_value_double(env, value, out) == napi_ok;
}

bool GetBool(napi_env env, napi_value value, bool* out) {
  napi_valuetype t;
  if (napi_typeof(env, value, &t) != napi_ok || t != napi_boolean) return false;
  return napi_get_value_bool(env, value, out) == napi_ok;
}

bool IsNullish(napi_env env, napi_value value) {
  napi_valuetype t;
  if (napi_typeof(env, value, &t) != napi_ok) return true;
  return t == napi_undefined || t == napi_null;
}

namespace {

// Sets *value to the property, or to nullptr when it is absent or undefined.
bool Property(napi_env env, napi_value obj, const char* key, napi_value* value) {
  *value = nullptr;
  napi_valuetype t;
  if (napi_typeof(env, obj, &t) != napi_ok || t != napi_object) return false;
  napi_value v;
  if (napi_get_named_property(env, obj, key, &v) != napi_ok) return false;
  if (IsNullish(env, v)) return true;
  *value = v;
  return true;
}

}  // namespace

bool OptInt(napi_env env, napi_value obj, const char* key, int32_t* out) {
  napi_value v;
  if (!Property(env, obj, key, &v)) return false;
  return v == nullptr || GetInt32(env, v, out);
}

bool OptBool(napi_env env, napi_value obj, const char* key, bool* out) {
  napi_value v;
  if (!Property(env, obj, key, &v)) return false;
  return v == nullptr || GetBool(env, v, out);
}

bool OptString(napi_env env, napi_value obj, const char* key, std::string* out) {
  napi_value v;
  if (!Property(env, obj, key, &v)) return false;
  if (v == nullptr) return true;
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok || t != napi_string) return false;
  size_t length = 0;
  if (napi_get_value_string_utf8(env, v, nullptr, 0, &length) != napi_ok) return false;
  std::vector<char> buf(length + 1);
  if (napi_get_value_string_utf8(env, v, buf.data(), buf.size(), &length) != napi_ok) return false;
  out->assign(buf.data(), length);
  return true;
}

napi_value Undefined(napi_env env) {
  napi_value v = nullptr;
  napi_get_undefined(env, &v);
  return v;
}

napi_value Int(napi_env env, int64_t value) {
  napi_value v = nullptr;
  napi_create_int64(env, value, &v);
  return v;
}

napi_value Double(napi_env env, double value) {
  napi_value v = nullptr;
  napi_create_double(env, value, &v);
  return v;
}

napi_value Boolean(napi_env env, bool value) {
  napi_value v = nullptr;
  napi_get_boolean(env, value, &v);
  return v;
}

napi_value String(napi_env env, const std::string& value) {
  napi_value v = nullptr;
  napi_create_string_utf8(env, value.c_str(), value.size(), &v);
  return v;
}

napi_value Throw(napi_env env, const std::string& message) {
  napi_throw_error(env, nullptr, message.c_str());
  return nullptr;
}

napi_value ThrowType(napi_env env, const std::string& message) {
  napi_throw_type_error(env, nullptr, message.c_str());
  return nullptr;
}

bool Args(napi_env env, napi_callback_info info, size_t max, napi_value* argv, napi_value* self, size_t* argc) {
  size_t n = max;
  if (napi_get_cb_info(env, info, &n, argv, self, nullptr) != napi_ok) return false;
  // N-API fills missing arguments with undefined up to `max`.
  if (argc != nullptr) *argc = n;
  return true;
}

bool DefineClass(napi_env env, napi_value exports, const char* name, napi_callback ctor, const Method* methods,
                 size_t count) {
  std::vector<napi_property_descriptor> props(count);
  for (size_t i = 0; i < count; i++) {
    props[i] = napi_property_descriptor{methods[i].name, nullptr, methods[i].fn, nullptr, nullptr, nullptr,
                                        napi_default_method, nullptr};
  }
  napi_value cls = nullptr;
  if (napi_define_class(env, name, NAPI_AUTO_LENGTH, ctor, nullptr, props.size(), props.data(), &cls) != napi_ok) {
    return false;
  }
  return napi_set_named_property(env, exports, name, cls) == napi_ok;
}

}  // namespace codec
