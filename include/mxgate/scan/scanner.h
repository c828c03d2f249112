// Virus scanning with libclamav: one compiled engine shared by a bounded scan lane, per-scan
// limits and deadline, CL_SCAN_HEURISTIC_EXCEEDS_MAX so over-limit data is never silently
// clean, and reload (SIGHUP) that builds a new engine off to the side and swaps it in while
// scans in progress finish on the old one. scan() is thread-safe; scanning runs on the lane.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace mxgate::scan {

struct ScanSettings {
  std::string signatures;  // directory (or file) of signature databases, loaded with cl_load
  std::string temp_dir;    // libclamav's temporary files
  uint64_t max_scan_size = 104857600;  // bytes scanned per message
  uint64_t max_file_size = 52428800;   // largest single file inside a message
  uint32_t max_recursion = 17;         // archive/MIME nesting (libclamav's default)
  uint32_t max_files = 10000;          // files inside one message
  std::chrono::milliseconds max_scan_time{30000};
  uint32_t threads = 1;                // scan lane size
  uint32_t queue_limit = 1000;         // scans waiting before new ones are refused
};

enum class Verdict {
  Clean,
  Infected,       // a signature matched; name says which
  LimitExceeded,  // a limit was hit (size, files, recursion, time): not known to be clean
  Error,          // the engine failed or the lane was full: not known to be clean
};
std::string_view name(Verdict verdict);

struct ScanResult {
  Verdict verdict = Verdict::Error;
  std::string name;    // virus or heuristic name ("Eicar-Test-Signature.UNOFFICIAL")
  std::string error;   // for Error
  uint64_t micros = 0;
};

struct ScannerStats {
  uint64_t scanned = 0;
  uint64_t infected = 0;
  uint64_t limits = 0;
  uint64_t errors = 0;
  uint64_t signatures = 0;  // signatures in the engine in use
  // The scan lane.
  uint64_t queued = 0;       // scans waiting
  uint64_t refused = 0;      // scans refused because the lane was full
  uint64_t wait_micros = 0;  // time scans waited in the queue, summed
};

class Scanner {
 public:
  // Initializes libclamav once and compiles the engine; nullptr with error on failure.
  static std::unique_ptr<Scanner> create(const ScanSettings& settings, std::string& error);
  ~Scanner();
  Scanner(const Scanner&) = delete;
  Scanner& operator=(const Scanner&) = delete;

  // Queues a scan of a whole RFC 5322 message; done runs on the scan lane. Returns false (and
  // does not call done) when the lane is full.
  bool scan(std::shared_ptr<const std::string> message, std::function<void(ScanResult)> done);
  // Scans on the calling thread (lane threads and tests).
  ScanResult scanNow(std::string_view message);
  // Recompiles the engine from the signature directory and swaps it in; on failure the old
  // engine stays and error says why.
  bool reload(std::string& error);
  ScannerStats stats() const;

 private:
  class Impl;
  explicit Scanner(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace mxgate::scan
