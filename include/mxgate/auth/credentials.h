// Tenants' credentials for authenticated submission (SMTP AUTH PLAIN/LOGIN, RFC 4954; kind
// "smtp") and for the HTTP send API (kind "api"), kept in the spool's credentials family
// (queue/README.md).
//
// User names are "<tenant>.<name>": readable in logs and listings, unique per tenant and name,
// and unambiguous because neither a tenant id nor a name may contain a dot. Secrets are
// generated here, 32 random bytes from OpenSSL's CSPRNG as 43 characters of base64url, and
// shown once. The spool keeps only HMAC-SHA256(node key, user name NUL secret), compared with
// CRYPTO_memcmp. Why not Argon2id: a memory-hard hash exists to slow the guessing of human
// passwords after a leak; a secret of 256 random bits cannot be guessed however fast the hash,
// while Argon2id's INTERACTIVE cost (64 MiB and tens of milliseconds per AUTH) would be paid on
// every session of applications that open one per message. The node key (a file, mode 0600,
// submission.credential_key_file) keeps a copied spool from verifying guesses offline; the
// user name inside the MAC keeps a hash from being moved to another record.
//
// Threads: every spool access runs on the credential lane; verify(), add(), list() and
// revoke() may be called from any thread and post their answer to the caller's loop.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mxgate/config/config.h"
#include "mxgate/io/lane.h"
#include "mxgate/io/loop.h"
#include "mxgate/spool/record.h"
#include "mxgate/spool/store.h"

namespace mxgate::auth {

enum class CredentialKind { Smtp, Api };

std::string_view kindName(CredentialKind kind);  // "smtp", "api"
std::optional<CredentialKind> parseKind(std::string_view text);

// A credential's name within its tenant: 1 to 64 characters of a-z, 0-9, '_' and '-'.
bool isValidCredentialName(std::string_view name);
// "<tenant>.<name>".
std::string credentialUsername(std::string_view tenant, std::string_view name);

// A new secret: 256 random bits in base64url (43 characters), never starting with '-' (swaks,
// curl and shells would read such a secret as an option); "" when the system has no randomness.
std::string generateSecret();

// submission.credential_key_file, or <spool>/credential.key when it is not set.
std::string credentialKeyPath(const config::Config& config);

class CredentialStore {
 public:
  // node_key: the contents of the credential key file (base::ensureSecretFile).
  CredentialStore(spool::Store& store, io::Lane& lane, std::string node_key);

  enum class Verdict {
    Accepted,
    Refused,      // unknown user, wrong secret, revoked, or a credential of the other kind
    Unavailable,  // the lane is full or the spool cannot be read: answer 454 4.7.0, not 535
  };
  struct Verification {
    Verdict verdict = Verdict::Refused;
    std::string tenant;  // Accepted: whose credential it is
  };
  // Checks a user name and secret on the lane; done runs on loop. Unknown users cost the same
  // HMAC as known ones.
  void verify(io::Loop& loop, std::string username, std::string secret, CredentialKind kind,
              std::function<void(Verification)> done);
  // The same check, blocking: lanes and tests only.
  Verification verifyNow(std::string_view username, std::string_view secret, CredentialKind kind);

  enum class Status { Ok, Exists, NotFound, AlreadyRevoked, Unavailable };
  struct Change {
    Status status = Status::Unavailable;
    spool::CredentialRecord record;  // its hash cleared
    std::string secret;              // add: shown once, never stored
  };
  struct Listing {
    Status status = Status::Unavailable;
    std::vector<spool::CredentialRecord> records;  // hashes cleared
  };
  // Creates the credential (the caller checked that the tenant exists and the name is valid),
  // with an audit record by actor in the same synced write. Exists when an active credential
  // has the name; a revoked one is replaced.
  void add(io::Loop& loop, std::string tenant, std::string name, CredentialKind kind, std::string actor,
           std::function<void(Change)> done);
  // Every credential (of the tenant when not empty), in user-name order.
  void list(io::Loop& loop, std::string tenant, std::function<void(Listing)> done);
  // Marks the credential revoked (audited); it fails verification from then on.
  // AlreadyRevoked (with the record) when it was revoked before.
  void revoke(io::Loop& loop, std::string username, std::string actor, std::function<void(Change)> done);

  // The stored form of a secret.
  std::string hashOf(std::string_view username, std::string_view secret) const;

 private:
  Change addNow(const std::string& tenant, const std::string& name, CredentialKind kind, const std::string& actor);
  Change revokeNow(const std::string& username, const std::string& actor);
  // Submits a synced batch and waits for it (lane threads only).
  bool writeSynced(spool::Batch batch);

  spool::Store& store_;
  io::Lane& lane_;
  const std::string node_key_;
  // add and revoke read, then write: one at a time, so two adds of a name cannot both win.
  std::mutex mutation_mutex_;
};

}  // namespace mxgate::auth
