// Tenants' credentials: generation, HMAC-SHA256 storage and verification (see
// include/mxgate/auth/credentials.h for the reasons). Spool reads and writes run on the
// credential lane; answers are posted to the caller's loop.
#include "mxgate/auth/credentials.h"

#include <openssl/crypto.h>

#include <future>

#include "mxgate/base/base64.h"
#include "mxgate/base/clock.h"
#include "mxgate/base/digest.h"
#include "mxgate/base/log.h"
#include "mxgate/base/secret_file.h"

namespace mxgate::auth {
namespace {

constexpr size_t kSecretBytes = 32;
constexpr size_t kMaxNameLength = 64;

bool sameBytes(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

// Runs work on the lane and posts its result to loop; a full lane answers `refused` at once.
template <class Result>
void onLane(io::Lane& lane, io::Loop& loop, std::function<Result()> work, std::function<void(Result)> done,
            Result refused) {
  auto shared_done = std::make_shared<std::function<void(Result)>>(std::move(done));
  const bool queued = lane.submit([&loop, work = std::move(work), shared_done] {
    loop.post([shared_done, result = work()]() mutable { (*shared_done)(std::move(result)); });
  });
  if (!queued) {
    loop.post([shared_done, refused = std::move(refused)]() mutable { (*shared_done)(std::move(refused)); });
  }
}

// Listings never carry the hash.
spool::CredentialRecord withoutHash(spool::CredentialRecord record) {
  record.hash.clear();
  return record;
}

}  // namespace

std::string_view kindName(CredentialKind kind) { return kind == CredentialKind::Api ? "api" : "smtp"; }

std::optional<CredentialKind> parseKind(std::string_view text) {
  if (text == "smtp") {
    return CredentialKind::Smtp;
  }
  if (text == "api") {
    return CredentialKind::Api;
  }
  return std::nullopt;
}

bool isValidCredentialName(std::string_view name) {
  if (name.empty() || name.size() > kMaxNameLength) {
    return false;
  }
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) {
      return false;
    }
  }
  return true;
}

std::string credentialUsername(std::string_view tenant, std::string_view name) {
  return std::string(tenant) + "." + std::string(name);
}

std::string generateSecret() {
  for (;;) {
    const std::string random = base::randomBytes(kSecretBytes);
    if (random.size() != kSecretBytes) {
      return {};
    }
    std::string secret = base64::encode(random, base64::Alphabet::Url);
    if (secret.front() != '-') {
      return secret;
    }
  }
}

std::string credentialKeyPath(const config::Config& config) {
  return config.submission.credential_key_file.empty() ? config.spool.path + "/credential.key"
                                                        : config.submission.credential_key_file;
}

CredentialStore::CredentialStore(spool::Store& store, io::Lane& lane, std::string node_key)
    : store_(store), lane_(lane), node_key_(std::move(node_key)) {}

std::string CredentialStore::hashOf(std::string_view username, std::string_view secret) const {
  std::string input(username);
  input.push_back('\0');
  input.append(secret);
  return base::hmacSha256(node_key_, input);
}

CredentialStore::Verification CredentialStore::verifyNow(std::string_view username, std::string_view secret,
                                                         CredentialKind kind) {
  // Computed before the lookup, so an unknown user costs what a known one does.
  const std::string presented = hashOf(username, secret);
  spool::CredentialRecord record;
  std::string error;
  const spool::Store::ReadStatus status = store_.readCredential(username, record, error);
  if (status == spool::Store::ReadStatus::IoError) {
    log::error("-", "credential_read_failed").kv("error", error);
    return {Verdict::Unavailable, ""};
  }
  if (status == spool::Store::ReadStatus::Corrupt) {
    log::error("-", "corrupt_credential_record").kv("username", username).kv("reason", error);
  }
  const bool matches = status == spool::Store::ReadStatus::Ok && sameBytes(presented, record.hash);
  if (!matches || record.revoked_us != 0 || record.kind != kindName(kind)) {
    return {Verdict::Refused, ""};
  }
  return {Verdict::Accepted, record.tenant};
}

void CredentialStore::verify(io::Loop& loop, std::string username, std::string secret, CredentialKind kind,
                             std::function<void(Verification)> done) {
  onLane<Verification>(
      lane_, loop,
      [this, username = std::move(username), secret = std::move(secret), kind] {
        return verifyNow(username, secret, kind);
      },
      std::move(done), Verification{Verdict::Unavailable, ""});
}

bool CredentialStore::writeSynced(spool::Batch batch) {
  std::promise<bool> written;
  std::future<bool> result = written.get_future();
  store_.submit(std::move(batch), true, [&written](const spool::CommitStatus& status) {
    written.set_value(status.ok);
  });
  return result.get();
}

CredentialStore::Change CredentialStore::addNow(const std::string& tenant, const std::string& name,
                                                CredentialKind kind, const std::string& actor) {
  std::lock_guard<std::mutex> lock(mutation_mutex_);
  const std::string username = credentialUsername(tenant, name);
  spool::CredentialRecord existing;
  std::string error;
  const spool::Store::ReadStatus status = store_.readCredential(username, existing, error);
  if (status == spool::Store::ReadStatus::IoError) {
    log::error("-", "credential_read_failed").kv("username", username).kv("error", error);
    return {};
  }
  if (status == spool::Store::ReadStatus::Ok && existing.revoked_us == 0) {
    return {Status::Exists, withoutHash(std::move(existing)), ""};
  }
  Change change{Status::Ok, {}, generateSecret()};
  if (change.secret.empty()) {
    log::error("-", "credential_random_failed");
    return {};
  }
  const uint64_t now = nowMicros();
  spool::CredentialRecord record{username, tenant, name, std::string(kindName(kind)), now, 0,
                                 hashOf(username, change.secret)};
  spool::Batch batch;
  batch.putCredential(record);
  batch.putAudit(spool::AuditRecord{now, actor, "credential_add", tenant, "",
                                    "username=" + username + " kind=" + record.kind});
  if (!writeSynced(std::move(batch))) {
    return {};
  }
  log::info("-", "credential_added")
      .kv("tenant", tenant)
      .kv("username", username)
      .kv("kind", record.kind)
      .kv("actor", actor);
  change.record = withoutHash(std::move(record));
  return change;
}

CredentialStore::Change CredentialStore::revokeNow(const std::string& username, const std::string& actor) {
  std::lock_guard<std::mutex> lock(mutation_mutex_);
  spool::CredentialRecord record;
  std::string error;
  const spool::Store::ReadStatus status = store_.readCredential(username, record, error);
  if (status == spool::Store::ReadStatus::NotFound) {
    return {Status::NotFound, {}, ""};
  }
  if (status != spool::Store::ReadStatus::Ok) {
    log::error("-", "credential_read_failed").kv("username", username).kv("error", error);
    return {};
  }
  if (record.revoked_us != 0) {
    return {Status::AlreadyRevoked, withoutHash(std::move(record)), ""};
  }
  record.revoked_us = nowMicros();
  spool::Batch batch;
  batch.putCredential(record);
  batch.putAudit(spool::AuditRecord{record.revoked_us, actor, "credential_revoke", record.tenant, "",
                                    "username=" + username + " kind=" + record.kind});
  if (!writeSynced(std::move(batch))) {
    return {};
  }
  log::info("-", "credential_revoked").kv("tenant", record.tenant).kv("username", username).kv("actor", actor);
  return {Status::Ok, withoutHash(std::move(record)), ""};
}

void CredentialStore::add(io::Loop& loop, std::string tenant, std::string name, CredentialKind kind,
                          std::string actor, std::function<void(Change)> done) {
  onLane<Change>(
      lane_, loop,
      [this, tenant = std::move(tenant), name = std::move(name), kind, actor = std::move(actor)] {
        return addNow(tenant, name, kind, actor);
      },
      std::move(done), Change{});
}

void CredentialStore::list(io::Loop& loop, std::string tenant, std::function<void(Listing)> done) {
  onLane<Listing>(
      lane_, loop,
      [this, tenant = std::move(tenant)] {
        Listing listing{Status::Ok, {}};
        store_.scanCredentials(tenant, [&listing](spool::CredentialRecord& record) {
          listing.records.push_back(withoutHash(std::move(record)));
        });
        return listing;
      },
      std::move(done), Listing{});
}

void CredentialStore::revoke(io::Loop& loop, std::string username, std::string actor,
                             std::function<void(Change)> done) {
  onLane<Change>(
      lane_, loop,
      [this, username = std::move(username), actor = std::move(actor)] { return revokeNow(username, actor); },
      std::move(done), Change{});
}

}  // namespace mxgate::auth
