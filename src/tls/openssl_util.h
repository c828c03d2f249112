// Private helpers shared by the TLS component: owning pointers for OpenSSL objects and the
// conversion of the thread's OpenSSL error queue into one readable message.
// Used on whichever thread calls into the component (the error queue is per thread).
#pragma once

#include <memory>
#include <string>

namespace mxgate::tls::detail {

// std::unique_ptr deleter that calls an OpenSSL free function.
template <auto FreeFn>
struct Free {
  template <typename T>
  void operator()(T* object) const {
    FreeFn(object);
  }
};

template <typename T, auto FreeFn>
using Owned = std::unique_ptr<T, Free<FreeFn>>;

// Drains the calling thread's OpenSSL error queue into "reason; reason; ..." (each formatted
// with ERR_error_string_n). Returns `fallback` when the queue is empty.
std::string takeErrors(const char* fallback);

}  // namespace mxgate::tls::detail
