// The gateway's accept-queue drain: every connection waiting on a listening socket, taken at once.
//
// Node 20's libuv (1.46) takes one connection off a listening socket per event-loop turn (strace:
// one accept4 per epoll_pwait, never an EAGAIN). A gateway whose turns take milliseconds under
// thousands of streams then accepts a few hundred connections a second; the kernel's accept queue
// fills, new clients' handshakes are dropped, and a client whose request was already sent is
// reset. This takes every waiting connection (up to `max`) in one call; the caller hands each
// descriptor to node:net (core/server/accept-queue.ts).
#include <napi.h>

#include <cerrno>
#include <sys/socket.h>

namespace {

Napi::Value AcceptPending(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsNumber()) {
    throw Napi::TypeError::New(env, "acceptPending(fd, max)");
  }
  const int fd = info[0].As<Napi::Number>().Int32Value();
  const uint32_t max = info[1].As<Napi::Number>().Uint32Value();
  Napi::Array fds = Napi::Array::New(env);
  uint32_t n = 0;
  while (n < max) {
    const int c = accept4(fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (c >= 0) {
      fds.Set(n++, Napi::Number::New(env, c));
      continue;
    }
    // A connection reset while queued is gone; the next one may be there.
    if (errno == EINTR || errno == ECONNABORTED) continue;
    // EAGAIN: the queue is empty. Anything else (EMFILE…): stop; libuv meets it at its next accept
    // and handles it as it always does.
    break;
  }
  return fds;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("acceptPending", Napi::Function::New(env, AcceptPending));
  return exports;
}

}  // namespace

NODE_API_MODULE(switchyard_accept, Init)
