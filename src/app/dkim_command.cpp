// `mxgate dkim keygen --domain D --selector S --algorithm rsa|ed25519 [--bits N] [--out PATH]`
// (see dkim_command.h). The key file is created with O_EXCL and mode 0600 in one open(2), so
// it is never readable by others, not even for a moment, and an existing file is never
// overwritten. Main thread of the CLI process.
#include "dkim_command.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>

#include "mxgate/auth/dkim_keygen.h"
#include "mxgate/config/config.h"

namespace mxgate::app {
namespace {

constexpr const char* kUsage =
    "usage: mxgate dkim keygen --domain D --selector S --algorithm rsa|ed25519 [--bits N] [--out PATH]\n"
    "  writes the private key (PEM, mode 0600; default PATH: <domain>.<selector>.pem, never\n"
    "  overwritten) and prints the DNS TXT record to publish. --bits: RSA size, 1024 to 4096\n"
    "  (default 2048).\n";

int usage(std::ostream& err, const std::string& problem) {
  if (!problem.empty()) {
    err << "mxgate dkim keygen: " << problem << "\n";
  }
  err << kUsage;
  return 2;
}

// Creates path (which must not exist) with mode 0600 and writes content durably.
bool writeNewPrivateFile(const std::string& path, const std::string& content, std::string& error) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    error = errno == EEXIST ? "already exists (not overwritten)" : std::strerror(errno);
    return false;
  }
  size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      break;
    }
    done += static_cast<size_t>(n);
  }
  const bool ok = done == content.size() && ::fsync(fd) == 0;
  if (!ok) {
    error = std::strerror(errno);
  }
  if (::close(fd) != 0 && ok) {
    error = std::strerror(errno);
    ::unlink(path.c_str());
    return false;
  }
  if (!ok) {
    ::unlink(path.c_str());
  }
  return ok;
}

}  // namespace

int runDkimCommand(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  if (args.empty() || args.front() != "keygen") {
    return usage(err, args.empty() ? "" : "unknown command \"" + args.front() + "\"");
  }
  std::map<std::string, std::string> options{{"--bits", std::to_string(auth::kDefaultRsaBits)}};
  for (size_t i = 1; i < args.size(); ++i) {
    const std::string& name = args[i];
    if (name != "--domain" && name != "--selector" && name != "--algorithm" && name != "--bits" && name != "--out") {
      return usage(err, "unknown option \"" + name + "\"");
    }
    if (i + 1 == args.size()) {
      return usage(err, name + " needs a value");
    }
    options[name] = args[++i];
  }
  for (const char* required : {"--domain", "--selector", "--algorithm"}) {
    if (options.count(required) == 0) {
      return usage(err, std::string(required) + " is required");
    }
  }
  const std::string& algorithm_name = options["--algorithm"];
  if (algorithm_name != "rsa" && algorithm_name != "ed25519") {
    return usage(err, "--algorithm must be rsa or ed25519");
  }
  const auto algorithm =
      algorithm_name == "rsa" ? config::DkimAlgorithm::RsaSha256 : config::DkimAlgorithm::Ed25519Sha256;
  const std::string& domain = options["--domain"];
  const std::string& selector = options["--selector"];
  if (const std::string problem = config::checkDkimKeyName(domain, selector); !problem.empty()) {
    return usage(err, problem);
  }
  const std::string& bits_text = options["--bits"];
  const unsigned long bits = bits_text.find_first_not_of("0123456789") == std::string::npos && bits_text.size() <= 5
                                 ? std::stoul(bits_text)
                                 : 0;
  if (bits < config::kMinRsaBits || bits > config::kMaxRsaBits) {
    return usage(err, "--bits must be between " + std::to_string(config::kMinRsaBits) + " and " +
                          std::to_string(config::kMaxRsaBits));
  }
  const std::string path = options.count("--out") != 0 ? options["--out"] : domain + "." + selector + ".pem";
  std::string error;
  const auto pair = auth::generateDkimKey(algorithm, static_cast<unsigned>(bits), error);
  if (!pair) {
    err << "mxgate dkim keygen: " << error << "\n";
    return 1;
  }
  if (!writeNewPrivateFile(path, pair->private_key_pem, error)) {
    err << "mxgate dkim keygen: " << path << ": " << error << "\n";
    return 1;
  }
  err << "wrote the private key to " << path << " (mode 0600); publish this TXT record:\n";
  out << auth::dkimZoneLine(selector, domain, auth::dkimKeyRecord(algorithm, pair->public_key)) << "\n";
  return 0;
}

}  // namespace mxgate::app
