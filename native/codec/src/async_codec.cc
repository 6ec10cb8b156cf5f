#include "async_codec.h"

#include <pthread.h>
#include <string.h>

namespace codec {

bool OutputBuffer::Ensure(napi_env env, size_t size, napi_value* buffer, uint8_t** data) {
  if (ref_ != nullptr && capacity_ >= size) {
    if (napi_get_reference_value(env, ref_, buffer) == napi_ok && *buffer != nullptr) {
      *data = data_;
      return true;
    }
  }
  // Grow geometrically so a slowly rising frame size does not reallocate every frame.
  size_t capacity = capacity_ * 2 > size ? capacity_ * 2 : size;
  if (capacity < 4096) capacity = 4096;
  void* ptr = nullptr;
  napi_value ab = nullptr;
  if (napi_create_arraybuffer(env, capacity, &ptr, &ab) != napi_ok) return false;
  Reset(env);
  if (napi_create_reference(env, ab, 1, &ref_) != napi_ok) return false;
  data_ = static_cast<uint8_t*>(ptr);
  capacity_ = capacity;
  *buffer = ab;
  *data = data_;
  return true;
}

void OutputBuffer::Reset(napi_env env) {
  if (ref_ != nullptr) napi_delete_reference(env, ref_);
  ref_ = nullptr;
  data_ = nullptr;
  capacity_ = 0;
}

AsyncCodec::~AsyncCodec() {
  // Close() joined the thread; this is the backstop for an instance that never started.
  if (thread_.joinable()) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
}

void AsyncCodec::AddJob(std::unique_ptr<Job> job) {
  free_.push_back(job.get());
  pool_.push_back(std::move(job));
}

bool AsyncCodec::Start(napi_env env, napi_value callback, const char* name) {
  env_ = env;
  if (napi_create_reference(env, callback, 0, &callback_) != napi_ok) return false;
  napi_value resource_name = nullptr;
  napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &resource_name);
  // No JS function on the TSFN itself (CallJs looks the weak callback up), unlimited queue so
  // the worker never blocks on JS, one owning thread (this worker).
  if (napi_create_threadsafe_function(env, nullptr, nullptr, resource_name, 0, 1, this, FinalizeTsfn, this, CallJs,
                                      &tsfn_) != napi_ok) {
    return false;
  }
  refs_++;
  // Idle instances must not keep the process alive; Submit() refs while work is in flight.
  napi_unref_threadsafe_function(env, tsfn_);
  if (napi_add_env_cleanup_hook(env, CleanupHook, this) == napi_ok) hook_ = true;
  thread_ = std::thread([this] { Run(); });
  // Visible in top -H / gdb (15 characters at most).
  pthread_setname_np(thread_.native_handle(), std::string(name).substr(0, 15).c_str());
  return true;
}

Job* AsyncCodec::Acquire() {
  if (closed_ || free_.empty()) return nullptr;
  Job* job = free_.back();
  free_.pop_back();
  return job;
}

void AsyncCodec::Submit(Job* job) {
  if (in_flight_++ == 0) {
    // While work is in flight the instance must outlive whatever JS dropped: the callback
    // becomes a strong reference (it reaches the wrapper, which reaches this object) and the
    // thread-safe function keeps the event loop alive until the result is delivered.
    napi_reference_ref(env_, callback_, nullptr);
    napi_ref_threadsafe_function(env_, tsfn_);
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(job);
  }
  cv_.notify_one();
}

size_t AsyncCodec::queued_or_running() const {
  std::lock_guard<std::mutex> lock(mu_);
  return queue_.size() + (running_ ? 1 : 0);
}

void AsyncCodec::Run() {
  for (;;) {
    Job* job = nullptr;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
      if (stop_) return;
      job = queue_.front();
      queue_.pop_front();
      running_ = true;
    }
    Process(job);
    {
      std::lock_guard<std::mutex> lock(mu_);
      running_ = false;
    }
    // Non-blocking into an unbounded queue: never waits for the JS thread. Fails only once the
    // function is being released, i.e. after Close(), when the result is unwanted anyway.
    napi_call_threadsafe_function(tsfn_, job, napi_tsfn_nonblocking);
  }
}

void AsyncCodec::CallJs(napi_env env, napi_value /*js_cb*/, void* context, void* data) {
  AsyncCodec* self = static_cast<AsyncCodec*>(context);
  Job* job = static_cast<Job*>(data);
  // env is null when the environment is being torn down: recycle only.
  if (env == nullptr || self->closed_) {
    self->free_.push_back(job);
    return;
  }
  napi_value argv[kMaxArgs];
  size_t argc = self->Deliver(env, job, argv);
  self->free_.push_back(job);
  // Take the callback into a handle before the reference may turn weak again.
  napi_value callback = nullptr;
  napi_get_reference_value(env, self->callback_, &callback);
  if (--self->in_flight_ == 0) {
    napi_unref_threadsafe_function(env, self->tsfn_);
    napi_reference_unref(env, self->callback_, nullptr);
  }
  if (argc == 0 || callback == nullptr) return;
  napi_value global = nullptr;
  napi_get_global(env, &global);
  if (napi_call_function(env, global, callback, argc, argv, nullptr) != napi_ok) {
    // An exception from the JS callback becomes an uncaught exception, as for any event.
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (pending) {
      napi_value err = nullptr;
      napi_get_and_clear_last_exception(env, &err);
      napi_fatal_exception(env, err);
    }
  }
}

void AsyncCodec::Close() {
  if (closed_) return;
  closed_ = true;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
    // Queued jobs are abandoned: back to the pool, never processed.
    for (Job* job : queue_) free_.push_back(job);
    queue_.clear();
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (hook_) napi_remove_env_cleanup_hook(env_, CleanupHook, this);
  hook_ = false;
  if (callback_ != nullptr) napi_delete_reference(env_, callback_);
  callback_ = nullptr;
  ReleaseJs(env_);
  if (tsfn_ != nullptr) {
    // Results already posted still reach CallJs (which only recycles them now); the
    // function is finalised once its queue is empty, which drops its share of the instance.
    if (in_flight_ > 0) napi_unref_threadsafe_function(env_, tsfn_);
    napi_release_threadsafe_function(tsfn_, napi_tsfn_release);
  }
  in_flight_ = 0;
}

bool AsyncCodec::Wrap(napi_env env, napi_value object, const napi_type_tag* tag) {
  env_ = env;
  if (napi_type_tag_object(env, object, tag) != napi_ok) return false;
  return napi_wrap(env, object, this, FinalizeWrap, nullptr, nullptr) == napi_ok;
}

void AsyncCodec::FinalizeWrap(napi_env /*env*/, void* data, void* /*hint*/) {
  AsyncCodec* self = static_cast<AsyncCodec*>(data);
  self->Close();
  self->Unref();
}

void AsyncCodec::FinalizeTsfn(napi_env /*env*/, void* data, void* /*hint*/) {
  AsyncCodec* self = static_cast<AsyncCodec*>(data);
  self->tsfn_ = nullptr;
  self->Unref();
}

void AsyncCodec::CleanupHook(void* arg) {
  // Environment teardown (worker_threads exit, process exit): stop the thread before the
  // environment goes away; the wrap finaliser later finds the instance closed.
  AsyncCodec* self = static_cast<AsyncCodec*>(arg);
  self->hook_ = false;
  self->Close();
}

void AsyncCodec::Unref() {
  if (--refs_ == 0) delete this;
}

}  // namespace codec
