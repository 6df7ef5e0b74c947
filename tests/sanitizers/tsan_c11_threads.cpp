// ThreadSanitizer support for libraries that use C11 <threads.h> (Debian 12's librdkafka).
//
// gcc 12's libtsan (and clang 14's) intercept pthread_create/join, pthread_mutex_* and
// pthread_cond_*, but not their C11 counterparts, and glibc implements thrd_create, mtx_lock,
// cnd_wait... by calling its internal pthread functions directly, past the interceptors. So a
// thread librdkafka starts is unknown to TSan (its first malloc crashes inside the TSan
// allocator: "SEGV on unknown address 0x000000000c38", thread "rdk:mock"), and librdkafka's
// locking is invisible (every hand-over of a message from its threads to ours would look like a
// race). These definitions, linked into every executable of the `tsan` preset only (see
// tsan-c11-threads.cmake), interpose glibc's and forward to the intercepted pthread functions;
// glibc's C11 types are the pthread types underneath (mtx_t is a pthread_mutex_t, cnd_t a
// pthread_cond_t, once_flag a pthread_once_t), exactly as glibc's own implementation treats them.
//
// librdkafka publishes a new object (with its mutex) to other threads through its own inline
// atomics, which TSan cannot see; so the memory write TSan records for pthread_mutex_init (and
// _destroy, and the same for condition variables) would race with the first lock from another
// thread. Those two calls therefore run with TSan's memory-access recording off: the lock and
// wait operations, which are what carry the happens-before edges, are still fully tracked.
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <threads.h>

// Exported by libtsan (not declared in gcc 12's <sanitizer/tsan_interface.h>).
extern "C" void __tsan_ignore_thread_begin();
extern "C" void __tsan_ignore_thread_end();

static_assert(sizeof(thrd_t) == sizeof(pthread_t) && sizeof(mtx_t) == sizeof(pthread_mutex_t) &&
              sizeof(cnd_t) == sizeof(pthread_cond_t) && sizeof(once_flag) == sizeof(pthread_once_t),
              "glibc's C11 thread types are its pthread types");

namespace {

int map_error(int err) {
  switch (err) {
    case 0: return thrd_success;
    case ENOMEM: return thrd_nomem;
    case EBUSY: return thrd_busy;
    case ETIMEDOUT: return thrd_timedout;
    default: return thrd_error;
  }
}

// Memory accesses in scope are not recorded (see above).
struct IgnoreAccesses {
  IgnoreAccesses() { __tsan_ignore_thread_begin(); }
  ~IgnoreAccesses() { __tsan_ignore_thread_end(); }
  IgnoreAccesses(const IgnoreAccesses&) = delete;
  IgnoreAccesses& operator=(const IgnoreAccesses&) = delete;
};

struct Start {
  thrd_start_t func;
  void* arg;
};

void* trampoline(void* p) {
  const Start start = *static_cast<Start*>(p);
  free(p);
  return reinterpret_cast<void*>(static_cast<intptr_t>(start.func(start.arg)));
}

}  // namespace

extern "C" {

int thrd_create(thrd_t* thr, thrd_start_t func, void* arg) {
  auto* start = static_cast<Start*>(malloc(sizeof(Start)));
  if (start == nullptr) return thrd_nomem;
  *start = Start{func, arg};
  const int err = pthread_create(thr, nullptr, trampoline, start);
  if (err != 0) free(start);
  return err == EAGAIN ? thrd_nomem : map_error(err);
}

int thrd_join(thrd_t thr, int* res) {
  void* result = nullptr;
  const int err = pthread_join(thr, &result);
  if (err == 0 && res != nullptr) *res = static_cast<int>(reinterpret_cast<intptr_t>(result));
  return map_error(err);
}

int thrd_detach(thrd_t thr) { return map_error(pthread_detach(thr)); }

int mtx_init(mtx_t* mutex, int type) {
  const IgnoreAccesses ignore;
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  pthread_mutexattr_settype(&attr, (type & mtx_recursive) != 0 ? PTHREAD_MUTEX_RECURSIVE : PTHREAD_MUTEX_NORMAL);
  const int err = pthread_mutex_init(reinterpret_cast<pthread_mutex_t*>(mutex), &attr);
  pthread_mutexattr_destroy(&attr);
  return map_error(err);
}
int mtx_lock(mtx_t* mutex) { return map_error(pthread_mutex_lock(reinterpret_cast<pthread_mutex_t*>(mutex))); }
int mtx_trylock(mtx_t* mutex) { return map_error(pthread_mutex_trylock(reinterpret_cast<pthread_mutex_t*>(mutex))); }
int mtx_unlock(mtx_t* mutex) { return map_error(pthread_mutex_unlock(reinterpret_cast<pthread_mutex_t*>(mutex))); }
void mtx_destroy(mtx_t* mutex) {
  const IgnoreAccesses ignore;
  pthread_mutex_destroy(reinterpret_cast<pthread_mutex_t*>(mutex));
}

int cnd_init(cnd_t* cond) {
  const IgnoreAccesses ignore;
  return map_error(pthread_cond_init(reinterpret_cast<pthread_cond_t*>(cond), nullptr));
}
int cnd_signal(cnd_t* cond) { return map_error(pthread_cond_signal(reinterpret_cast<pthread_cond_t*>(cond))); }
int cnd_broadcast(cnd_t* cond) { return map_error(pthread_cond_broadcast(reinterpret_cast<pthread_cond_t*>(cond))); }
int cnd_wait(cnd_t* cond, mtx_t* mutex) {
  return map_error(pthread_cond_wait(reinterpret_cast<pthread_cond_t*>(cond), reinterpret_cast<pthread_mutex_t*>(mutex)));
}
int cnd_timedwait(cnd_t* __restrict cond, mtx_t* __restrict mutex, const struct timespec* __restrict abstime) {
  return map_error(pthread_cond_timedwait(reinterpret_cast<pthread_cond_t*>(cond),
                                          reinterpret_cast<pthread_mutex_t*>(mutex), abstime));
}
void cnd_destroy(cnd_t* cond) {
  const IgnoreAccesses ignore;
  pthread_cond_destroy(reinterpret_cast<pthread_cond_t*>(cond));
}

void call_once(once_flag* flag, void (*func)(void)) { pthread_once(reinterpret_cast<pthread_once_t*>(flag), func); }

}  // extern "C"
