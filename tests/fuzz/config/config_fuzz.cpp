// libFuzzer target for the configuration loader: the input is the node file, and when it
// contains a NUL byte the part after the first NUL is a tenant policy file. loadFromText must
// never crash, hang or throw, whatever the bytes (TOML syntax, deep nesting, huge numbers).
// Single-threaded.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "mxgate/config/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  const size_t nul = input.find('\0');
  std::vector<mxgate::config::PolicySource> policies;
  if (nul != std::string::npos) {
    policies.push_back({"fuzz-policy.toml", input.substr(nul + 1)});
  }
  const mxgate::config::LoadResult result =
      mxgate::config::loadFromText("fuzz-node.toml", input.substr(0, nul), policies);
  for (const mxgate::config::ConfigError& error : result.errors) {
    error.str();
  }
  if (result.config != nullptr) {
    for (const mxgate::config::Tenant& tenant : result.config->tenants) {
      for (const std::string& domain : tenant.domains) {
        result.config->tenantForDomain(domain);
      }
      result.config->tenantById(tenant.id);
    }
  }
  return 0;
}
