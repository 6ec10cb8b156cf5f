// Runs one codec instance's work on a thread of its own and hands each result back to the JS
// thread, in submission order.
//
// Why a dedicated thread rather than napi async work on the libuv pool: the pool has four
// threads shared with fs, dns and zlib; a room runs several encoders (one per profile and
// codec) and one decoder per H.264 sender, each busy for milliseconds per frame, which would
// queue file I/O (recording segments) behind video work. A thread per instance also makes
// ordering trivial: one queue, one consumer.
//
// Jobs come from a fixed pool allocated up front (input and output storage reused from frame
// to frame). The pool size is the backpressure rule: when every job is in flight, Acquire()
// returns nullptr and the caller drops (encoder) or flushes (decoder). A job stays "in flight"
// from Submit() until its result has been copied into JS memory on the JS thread, so the worker
// never writes a buffer JS may be reading.
#pragma once

#include <node_api.h>

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace codec {

struct Job {
  virtual ~Job() = default;
};

// A JS ArrayBuffer kept across calls and grown on demand, so results are copied into the same
// memory every time instead of allocating a new buffer per frame.
class OutputBuffer {
 public:
  // JS thread. Returns the buffer (at least `size` bytes) and its data pointer.
  bool Ensure(napi_env env, size_t size, napi_value* buffer, uint8_t** data);
  void Reset(napi_env env);

 private:
  napi_ref ref_ = nullptr;
  uint8_t* data_ = nullptr;
  size_t capacity_ = 0;
};

class AsyncCodec {
 public:
  static constexpr size_t kMaxArgs = 8;

  AsyncCodec() = default;
  virtual ~AsyncCodec();
  AsyncCodec(const AsyncCodec&) = delete;
  AsyncCodec& operator=(const AsyncCodec&) = delete;

  // JS thread. `callback` receives each result. It is held weakly while the instance is idle
  // (the JS wrapper keeps it alive), so an instance JS forgets is collected and its thread
  // stopped; strongly while work is in flight, so a result always finds its callback.
  bool Start(napi_env env, napi_value callback, const char* name);
  // JS thread. A free job, or nullptr when `pool size` jobs are in flight.
  Job* Acquire();
  // JS thread. Queues a job acquired with Acquire().
  void Submit(Job* job);
  // JS thread. Drops queued jobs, waits for the running one, stops the thread. Results not yet
  // delivered are discarded. Idempotent.
  void Close();
  bool closed() const { return closed_; }
  size_t in_flight() const { return in_flight_; }
  size_t queued_or_running() const;

  // Binds the instance to a JS object: the instance is deleted once both the JS object has
  // been collected and the thread-safe function has been finalised. The tag identifies the
  // subclass, so a method called on the wrong kind of object fails instead of misreading memory.
  bool Wrap(napi_env env, napi_value object, const napi_type_tag* tag);
  template <typename T>
  static T* Unwrap(napi_env env, napi_value object, const napi_type_tag* tag) {
    bool tagged = false;
    if (napi_check_object_type_tag(env, object, tag, &tagged) != napi_ok || !tagged) return nullptr;
    void* p = nullptr;
    if (napi_unwrap(env, object, &p) != napi_ok) return nullptr;
    return static_cast<T*>(static_cast<AsyncCodec*>(p));
  }

 protected:
  void AddJob(std::unique_ptr<Job> job);
  // Worker thread: the codec work for one job (results stored in the job).
  virtual void Process(Job* job) = 0;
  // JS thread: copy the job's results into JS values; returns the argument count (≤ kMaxArgs).
  // The job is recycled right after, before the callback runs, so the callback may submit.
  virtual size_t Deliver(napi_env env, Job* job, napi_value* argv) = 0;
  // JS thread, once, from Close(): free JS references held by the subclass.
  virtual void ReleaseJs(napi_env env) { (void)env; }

 private:
  static void CallJs(napi_env env, napi_value js_cb, void* context, void* data);
  static void FinalizeTsfn(napi_env env, void* data, void* hint);
  static void FinalizeWrap(napi_env env, void* data, void* hint);
  static void CleanupHook(void* arg);
  void Run();
  void Unref();

  std::vector<std::unique_ptr<Job>> pool_;
  std::vector<Job*> free_;  // JS thread only
  std::deque<Job*> queue_;  // guarded by mu_
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;     // guarded by mu_
  bool running_ = false;  // guarded by mu_: the worker holds a job
  std::thread thread_;
  napi_env env_ = nullptr;
  napi_threadsafe_function tsfn_ = nullptr;
  napi_ref callback_ = nullptr;
  size_t in_flight_ = 0;  // JS thread only
  bool closed_ = false;   // JS thread only
  bool hook_ = false;     // JS thread only
  int refs_ = 1;          // JS thread only: the JS wrapper, plus the thread-safe function once started
};

}  // namespace codec
