// Virus scanning with libclamav 1.4 (see include/mxgate/scan/scanner.h). A whole RFC 5322
// message (MIME per RFC 2045-2049) is handed to libclamav from memory as it is; libclamav's own
// parsers decode the parts, archives and documents inside it. One compiled engine is shared by
// every scan and replaced whole on reload; each scan holds its own reference to the engine it
// started on, so an old engine is freed only after the last scan using it ends.
// Threads: create() and reload() run on the caller (start-up, SIGHUP); scanNow() runs on the
// caller, scan() on the "scan" lane's threads. libclamav supports concurrent scans on one
// compiled engine.
#include "mxgate/scan/scanner.h"

#include <clamav.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <filesystem>
#include <mutex>
#include <utility>

#include "mxgate/base/log.h"
#include "mxgate/io/lane.h"

namespace mxgate::scan {
namespace {

// libclamav names every limit it hits (with CL_SCAN_HEURISTIC_EXCEEDS_MAX) under this prefix,
// e.g. "Heuristics.Limits.Exceeded.MaxFileSize".
constexpr std::string_view kLimitAlertPrefix = "Heuristics.Limits.Exceeded";
constexpr std::string_view kMaxFileSizeAlert = "Heuristics.Limits.Exceeded.MaxFileSize";
// The alert libclamav raises when a callback blocks a file.
constexpr std::string_view kCallbackAlert = "Detected.By.Callback";

// The per-scan context libclamav hands back to the callbacks.
struct ScanContext {
  uint64_t max_file_size = 0;
  bool member_over_limit = false;
  std::string last_alert;
};

// Engine-level clcb_virus_found. libclamav leaves the virname out-parameter NULL for some
// alerts (the whole-map size limit, for one) but always reports them here.
void onVirusFound(int, const char* virname, void* context) {
  if (context != nullptr && virname != nullptr) {
    static_cast<ScanContext*>(context)->last_alert = virname;
  }
}

// Engine-level clcb_meta: called with each archive member's declared size (zip, 7z, rar, tar,
// cab, chm, ...) and each decoded mail attachment before it is scanned. libclamav extracts a
// zip (also cab, chm, xar) member only up to max_file_size, scans that head and raises no limit
// alert, so the rest of the member would pass as clean. Blocking the member here ends the scan
// with an alert, which also keeps every layer out of the clean cache; classify() reports it as
// the size limit. libclamav reads a zip's whole central directory first, so such a member
// decides the verdict even when a sibling member is infected.
cl_error_t onContainedFile(const char*, unsigned long, const char*, unsigned long size, int, unsigned int,
                           void* context) {
  auto* scan = static_cast<ScanContext*>(context);
  if (scan != nullptr && scan->max_file_size != 0 && size > scan->max_file_size) {
    scan->member_over_limit = true;
    return CL_VIRUS;
  }
  return CL_CLEAN;
}

// libclamav's messages become our log lines instead of raw text on stderr.
void onMessage(enum cl_msg severity, const char*, const char* message, void*) {
  std::string_view text = message == nullptr ? std::string_view() : std::string_view(message);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) {
    text.remove_suffix(1);
  }
  log::Level level = log::Level::Debug;
  if (severity >= CL_MSG_ERROR) {
    level = log::Level::Error;
  } else if (severity >= CL_MSG_WARN) {
    level = log::Level::Warn;
  }
  log::Line(level, "-", "clamav_message").kv("text", text);
}

// cl_init once per process; every later call returns the first result.
cl_error_t initLibrary() {
  static std::once_flag once;
  static cl_error_t result = CL_SUCCESS;
  std::call_once(once, [] {
    cl_set_clcb_msg(onMessage);
    result = cl_init(CL_INIT_DEFAULT);
  });
  return result;
}

struct EngineDeleter {
  void operator()(cl_engine* engine) const { cl_engine_free(engine); }
};
using EngineHandle = std::unique_ptr<cl_engine, EngineDeleter>;

// A compiled engine; scans share it read-only.
struct Engine {
  EngineHandle handle;
  uint64_t signatures = 0;
  uint64_t max_file_size = 0;
};

long long clampToLongLong(uint64_t value) {
  return static_cast<long long>(std::min<uint64_t>(value, static_cast<uint64_t>(LLONG_MAX)));
}

// CL_ENGINE_MAX_SCANTIME is a uint32_t count of milliseconds; 0 means no limit.
long long scanTimeMillis(std::chrono::milliseconds limit) {
  auto count = limit.count();
  if (count <= 0) {
    return 0;
  }
  return static_cast<long long>(std::min<uint64_t>(static_cast<uint64_t>(count), UINT32_MAX));
}

std::string describe(const char* what, cl_error_t rc) {
  return std::string("libclamav: ") + what + ": " + cl_strerror(rc);
}

// Builds and compiles an engine from settings; nullptr with error on any failure.
std::shared_ptr<const Engine> buildEngine(const ScanSettings& settings, std::string& error) {
  EngineHandle handle(cl_engine_new());
  if (!handle) {
    error = "libclamav: cl_engine_new failed";
    return nullptr;
  }
  struct Limit {
    cl_engine_field field;
    long long value;
    const char* what;
  };
  const Limit limits[] = {
      {CL_ENGINE_MAX_SCANSIZE, clampToLongLong(settings.max_scan_size), "setting max_scan_size"},
      {CL_ENGINE_MAX_FILESIZE, clampToLongLong(settings.max_file_size), "setting max_file_size"},
      {CL_ENGINE_MAX_RECURSION, settings.max_recursion, "setting max_recursion"},
      {CL_ENGINE_MAX_FILES, settings.max_files, "setting max_files"},
      {CL_ENGINE_MAX_SCANTIME, scanTimeMillis(settings.max_scan_time), "setting max_scan_time"},
  };
  for (const Limit& limit : limits) {
    cl_error_t rc = cl_engine_set_num(handle.get(), limit.field, limit.value);
    if (rc != CL_SUCCESS) {
      error = describe(limit.what, rc);
      return nullptr;
    }
  }
  if (!settings.temp_dir.empty()) {
    cl_error_t rc = cl_engine_set_str(handle.get(), CL_ENGINE_TMPDIR, settings.temp_dir.c_str());
    if (rc != CL_SUCCESS) {
      error = describe("setting temp_dir", rc);
      return nullptr;
    }
  }
  cl_engine_set_clcb_virus_found(handle.get(), onVirusFound);
  cl_engine_set_clcb_meta(handle.get(), onContainedFile);

  unsigned int signatures = 0;
  cl_error_t rc = cl_load(settings.signatures.c_str(), handle.get(), &signatures, CL_DB_STDOPT);
  if (rc != CL_SUCCESS) {
    error = "cannot load ClamAV signature databases from '" + settings.signatures +
            "': " + cl_strerror(rc);
    return nullptr;
  }
  if (signatures == 0) {
    error = "no ClamAV signatures in '" + settings.signatures + "'";
    return nullptr;
  }
  rc = cl_engine_compile(handle.get());
  if (rc != CL_SUCCESS) {
    error = "cannot compile the ClamAV engine from '" + settings.signatures +
            "': " + cl_strerror(rc);
    return nullptr;
  }
  auto engine = std::make_shared<Engine>();
  engine->handle = std::move(handle);
  engine->signatures = signatures;
  engine->max_file_size = settings.max_file_size;
  return engine;
}

ScanResult classify(cl_error_t rc, std::string alert, bool member_over_limit) {
  ScanResult result;
  switch (rc) {
    case CL_CLEAN:
      result.verdict = Verdict::Clean;
      break;
    case CL_VIRUS:
      if (member_over_limit && alert == kCallbackAlert) {
        alert = kMaxFileSizeAlert;
      }
      result.verdict = alert.starts_with(kLimitAlertPrefix) ? Verdict::LimitExceeded : Verdict::Infected;
      result.name = std::move(alert);
      break;
    case CL_ETIMEOUT:
    case CL_EMAXREC:
    case CL_EMAXSIZE:
    case CL_EMAXFILES:
      result.verdict = Verdict::LimitExceeded;
      result.name = std::move(alert);
      result.error = cl_strerror(rc);
      break;
    default:
      result.verdict = Verdict::Error;
      result.error = describe("scan failed", rc);
      break;
  }
  return result;
}

ScanResult scanWith(const Engine& engine, std::string_view message) {
  cl_fmap_t* map = cl_fmap_open_memory(message.data(), message.size());
  if (map == nullptr) {
    ScanResult result;
    result.error = "libclamav: cannot map the message";
    return result;
  }
  cl_scan_options options{};
  options.general = CL_SCAN_GENERAL_HEURISTICS;
  options.parse = ~0u;
  options.heuristic = CL_SCAN_HEURISTIC_EXCEEDS_MAX;
  const char* virname = nullptr;
  unsigned long scanned = 0;
  ScanContext context;
  context.max_file_size = engine.max_file_size;
  cl_error_t rc =
      cl_scanmap_callback(map, nullptr, &virname, &scanned, engine.handle.get(), &options, &context);
  cl_fmap_close(map);
  return classify(rc, virname != nullptr ? std::string(virname) : std::move(context.last_alert),
                  context.member_over_limit);
}

}  // namespace

std::string_view name(Verdict verdict) {
  switch (verdict) {
    case Verdict::Clean:
      return "clean";
    case Verdict::Infected:
      return "infected";
    case Verdict::LimitExceeded:
      return "limit_exceeded";
    case Verdict::Error:
      return "error";
  }
  return "unknown";
}

class Scanner::Impl {
 public:
  Impl(const ScanSettings& settings, std::shared_ptr<const Engine> engine)
      : settings_(settings),
        engine_(std::move(engine)),
        lane_("scan", settings.threads, settings.queue_limit) {}

  bool scan(std::shared_ptr<const std::string> message, std::function<void(ScanResult)> done) {
    return lane_.submit([this, message = std::move(message), done = std::move(done)] {
      if (message == nullptr) {
        ScanResult result;
        result.error = "no message to scan";
        count(result);
        done(std::move(result));
        return;
      }
      done(scanNow(*message));
    });
  }

  ScanResult scanNow(std::string_view message) {
    auto started = std::chrono::steady_clock::now();
    std::shared_ptr<const Engine> engine = current();
    ScanResult result = scanWith(*engine, message);
    auto elapsed = std::chrono::steady_clock::now() - started;
    result.micros =
        static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count());
    count(result);
    return result;
  }

  bool reload(std::string& error) {
    std::lock_guard<std::mutex> serial(reload_mutex_);
    std::shared_ptr<const Engine> fresh = buildEngine(settings_, error);
    if (!fresh) {
      return false;
    }
    std::shared_ptr<const Engine> old;
    {
      std::lock_guard<std::mutex> lock(engine_mutex_);
      old = std::exchange(engine_, std::move(fresh));
    }
    // old goes out of scope here, outside the lock: the engine is freed now unless scans still
    // hold it, in which case the last of them frees it.
    return true;
  }

  ScannerStats stats() const {
    ScannerStats stats;
    stats.scanned = scanned_.load(std::memory_order_relaxed);
    stats.infected = infected_.load(std::memory_order_relaxed);
    stats.limits = limits_.load(std::memory_order_relaxed);
    stats.errors = errors_.load(std::memory_order_relaxed);
    stats.signatures = current()->signatures;
    stats.queued = lane_.depth();
    stats.refused = lane_.refused();
    stats.wait_micros = lane_.waitMicros();
    return stats;
  }

 private:
  std::shared_ptr<const Engine> current() const {
    std::lock_guard<std::mutex> lock(engine_mutex_);
    return engine_;
  }

  void count(const ScanResult& result) {
    scanned_.fetch_add(1, std::memory_order_relaxed);
    switch (result.verdict) {
      case Verdict::Clean:
        break;
      case Verdict::Infected:
        infected_.fetch_add(1, std::memory_order_relaxed);
        break;
      case Verdict::LimitExceeded:
        limits_.fetch_add(1, std::memory_order_relaxed);
        break;
      case Verdict::Error:
        errors_.fetch_add(1, std::memory_order_relaxed);
        break;
    }
  }

  const ScanSettings settings_;
  mutable std::mutex engine_mutex_;
  std::shared_ptr<const Engine> engine_;
  std::mutex reload_mutex_;
  std::atomic<uint64_t> scanned_{0};
  std::atomic<uint64_t> infected_{0};
  std::atomic<uint64_t> limits_{0};
  std::atomic<uint64_t> errors_{0};
  io::Lane lane_;  // declared last: destroyed first, so queued scans finish while the rest lives
};

std::unique_ptr<Scanner> Scanner::create(const ScanSettings& settings, std::string& error) {
  if (settings.threads == 0) {
    error = "scan: threads must be at least 1";
    return nullptr;
  }
  if (settings.queue_limit == 0) {
    error = "scan: queue_limit must be at least 1";
    return nullptr;
  }
  if (!settings.temp_dir.empty()) {
    std::error_code ec;
    if (!std::filesystem::is_directory(settings.temp_dir, ec)) {
      error = "scan: temp_dir '" + settings.temp_dir + "' is not a directory";
      return nullptr;
    }
  }
  cl_error_t rc = initLibrary();
  if (rc != CL_SUCCESS) {
    error = describe("cl_init failed", rc);
    return nullptr;
  }
  std::shared_ptr<const Engine> engine = buildEngine(settings, error);
  if (!engine) {
    return nullptr;
  }
  return std::unique_ptr<Scanner>(new Scanner(std::make_unique<Impl>(settings, std::move(engine))));
}

Scanner::Scanner(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Scanner::~Scanner() = default;

bool Scanner::scan(std::shared_ptr<const std::string> message, std::function<void(ScanResult)> done) {
  return impl_->scan(std::move(message), std::move(done));
}

ScanResult Scanner::scanNow(std::string_view message) { return impl_->scanNow(message); }

bool Scanner::reload(std::string& error) { return impl_->reload(error); }

ScannerStats Scanner::stats() const { return impl_->stats(); }

}  // namespace mxgate::scan
