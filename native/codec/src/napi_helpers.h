// Small N-API helpers shared by the bindings. Argument readers return false (never throw) so a
// binding can throw one TypeError naming the argument; callers validate types on the JS side
// as well, these checks exist because a wrong pointer would be a memory error.
#pragma once

#include <node_api.h>

#include <stddef.h>
#include <stdint.h>

#include <string>

namespace codec {

struct Bytes {
  uint8_t* data = nullptr;
  size_t length = 0;  // in bytes
};

// Uint8Array / Uint8ClampedArray / Buffer (wrtc hands out Uint8ClampedArray frames).
bool GetBytes(napi_env env, napi_value value, Bytes* out);
// Int16Array: PCM samples. `length` is in samples.
bool GetInt16(napi_env env, napi_value value, int16_t** data, size_t* length);
bool GetInt32(napi_env env, napi_value value, int32_t* out);
bool GetDouble(napi_env env, napi_value value, double* out);
bool GetBool(napi_env env, napi_value value, bool* out);
bool IsNullish(napi_env env, napi_value value);

// Options object readers: a missing or undefined property leaves *out unchanged and returns
// true; a property of the wrong type returns false.
bool OptInt(napi_env env, napi_value obj, const char* key, int32_t* out);
bool OptBool(napi_env env, napi_value obj, const char* key, bool* out);
bool OptString(napi_env env, napi_value obj, const char* key, std::string* out);

napi_value Undefined(napi_env env);
napi_value Int(napi_env env, int64_t value);
napi_value Double(napi_env env, double value);
napi_value Boolean(napi_env env, bool value);
napi_value String(napi_env env, const std::string& value);

// Throws a JS Error (or TypeError) and returns nullptr, so bindings can `return Throw(...)`.
napi_value Throw(napi_env env, const std::string& message);
napi_value ThrowType(napi_env env, const std::string& message);

// Reads `this` and up to `max` arguments; unset arguments are undefined.
bool Args(napi_env env, napi_callback_info info, size_t max, napi_value* argv, napi_value* self,
          size_t* argc = nullptr);

// Defines a class with the given constructor and prototype methods on `exports`.
struct Method {
  const char* name;
  napi_callback fn;
};
bool DefineClass(napi_env env, napi_value exports, const char* name, napi_callback ctor, const Method* methods,
                 size_t count);

}  // namespace codec
