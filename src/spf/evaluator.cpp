// check_host() (RFC 7208 §4) as an asynchronous state machine: §2.4 identities, §4.3 initial
// processing, §4.4-4.5 record lookup and selection (TXT only, exactly one v=spf1 record),
// §4.6 evaluation with include frames and redirect, §5 mechanisms, §4.6.4 limits (10
// DNS-querying terms, 2 void lookups, 10 MX names, 10 PTR names), §6.2 explanations for fail
// results and the %{p} validated name of §7.3.
//
// Every DNS step is one Dns::lookup; the evaluation continues in its callback, one lookup at a
// time. Answers that arrive synchronously are queued and run by the loop already on the stack
// (no recursion through callbacks). The callbacks may come from any thread: a mutex hands the
// state from one to the next, and only one thread runs the evaluation at a time. In production
// everything runs on the resolver's loop thread; `done` is called exactly once, on the thread
// of the last answer (or inside check() when every answer came synchronously).
#include <algorithm>
#include <mutex>

#include "internal.h"
#include "mxgate/base/ascii.h"
#include "mxgate/base/clock.h"
#include "mxgate/spf/spf.h"

namespace mxgate::spf {
namespace {

constexpr uint32_t kMaxDnsTerms = 10;    // §4.6.4
constexpr uint32_t kMaxVoidLookups = 2;  // §4.6.4
constexpr size_t kMaxMxNames = 10;       // §4.6.4: more is a permerror
constexpr size_t kMaxPtrNames = 10;      // §4.6.4: the rest are ignored

using Handler = std::function<void(const dns::Answer&)>;
using Step = std::function<void()>;

Result qualifierResult(char qualifier) {
  switch (qualifier) {
    case '-':
      return Result::Fail;
    case '~':
      return Result::SoftFail;
    case '?':
      return Result::Neutral;
    default:
      return Result::Pass;
  }
}

// §4.5: a v=spf1 record is "v=spf1" (any case) followed by a space or nothing.
bool isSpfRecord(std::string_view text) {
  return ascii::startsWithIgnoreCase(text, "v=spf1") && (text.size() == 6 || text[6] == ' ');
}

// A negative answer: the "void lookup" of §4.6.4.
bool isVoid(const dns::Answer& answer) {
  return answer.status == dns::Status::NxDomain || answer.status == dns::Status::NoData ||
         (answer.addresses.empty() && answer.mx.empty() && answer.names.empty() && answer.texts.empty());
}

dns::AnswerPtr syntheticAnswer(dns::Status status) {
  auto answer = std::make_shared<dns::Answer>();
  answer->status = status;
  return answer;
}

class Evaluation : public std::enable_shared_from_this<Evaluation> {
 public:
  Evaluation(Dns& dns, std::function<void(Outcome)> done) : dns_(dns), done_(std::move(done)) {}

  void start(const Request& request) {
    {
      std::lock_guard lock(mutex_);
      running_ = true;
    }
    begin(request);
    drain();
  }

 private:
  struct Frame {
    std::string domain;      // <domain> of this check_host()
    Record record;
    size_t next = 0;         // the term being evaluated
    bool included = false;   // its result answers the parent's include
    bool redirected = false;  // reached through redirect=: "none" is a permerror (§6.1)
  };

  struct ValidatedNames {
    bool ready = false;
    dns::Status status = dns::Status::NoData;  // of the PTR lookup
    std::vector<std::string> candidates;       // the first 10 PTR names
    std::vector<std::string> names;            // those whose addresses include the client
  };

  // ---- DNS plumbing ------------------------------------------------------------------------

  void query(const std::string& name, dns::RrType type, Handler handler) {
    uint64_t id = 0;
    {
      std::lock_guard lock(mutex_);
      pending_ = std::move(handler);
      id = ++query_id_;
    }
    if (!detail::isQueryableName(name)) {
      deliver(id, syntheticAnswer(dns::Status::NxDomain));
      return;
    }
    dns_.lookup(name, type, [self = shared_from_this(), id](dns::AnswerPtr answer) { self->deliver(id, std::move(answer)); });
  }

  // Takes the answer to query `id`; a late, stale or repeated answer is dropped.
  void deliver(uint64_t id, dns::AnswerPtr answer) {
    {
      std::lock_guard lock(mutex_);
      if (finished_ || id != query_id_ || !pending_ || ready_) {
        return;
      }
      ready_ = answer ? std::move(answer) : syntheticAnswer(dns::Status::ServFail);
      if (running_) {
        return;  // the drain() below us on this stack, or on another thread, takes it
      }
      running_ = true;
    }
    drain();
  }

  void drain() {
    for (;;) {
      Handler handler;
      dns::AnswerPtr answer;
      {
        std::lock_guard lock(mutex_);
        if (!ready_ || finished_) {
          running_ = false;
          return;
        }
        handler = std::move(pending_);
        pending_ = nullptr;
        answer = std::move(ready_);
      }
      handler(*answer);
    }
  }

  void finish(Result result, std::string problem = {}) {
    std::function<void(Outcome)> done;
    {
      std::lock_guard lock(mutex_);
      if (finished_) {
        return;
      }
      finished_ = true;
      pending_ = nullptr;
      done = std::move(done_);
    }
    outcome_.result = result;
    outcome_.problem = std::move(problem);
    if (!frames_.empty()) {
      outcome_.domain = frames_.back().domain;
    }
    done(std::move(outcome_));
  }

  // ---- check_host() frames -----------------------------------------------------------------

  void begin(const Request& request) {
    MacroContext& context = context_;
    context.helo = request.helo;
    context.receiver = request.receiver;
    context.now = static_cast<long long>(nowMicros() / 1000000);
    std::string domain;
    if (request.sender.empty()) {  // §2.4: the HELO identity, as postmaster@<helo>
      outcome_.identity = "helo";
      context.local = "postmaster";
      domain = request.helo;
    } else {
      outcome_.identity = "mailfrom";
      const size_t at = request.sender.rfind('@');
      context.local = at == std::string::npos || at == 0 ? "postmaster" : request.sender.substr(0, at);
      domain = at == std::string::npos ? request.sender : request.sender.substr(at + 1);
    }
    domain = std::string(detail::withoutTrailingDot(domain));
    context.sender = context.local + "@" + domain;
    context.sender_domain = domain;
    outcome_.domain = domain;
    const auto client = detail::parseClient(request.client_ip);
    if (!client) {
      finish(Result::PermError, "the client address \"" + request.client_ip + "\" is not numeric");
      return;
    }
    client_ = *client;
    context.ipv6 = client_.v6;
    context.client_ip = client_.v6 ? request.client_ip : detail::readableAddress(client_);
    frames_.push_back(Frame{domain, Record{}, 0, false, false});
    checkHost();
  }

  // §4.3-4.5 for frames_.back().
  void checkHost() {
    const Frame& frame = frames_.back();
    if (!detail::isWellFormedDomain(frame.domain)) {
      frameResult(Result::None);
      return;
    }
    query(frame.domain, dns::RrType::TXT, [this](const dns::Answer& answer) { onRecord(answer); });
  }

  void onRecord(const dns::Answer& answer) {
    Frame& frame = frames_.back();
    if (answer.temporary()) {
      finish(Result::TempError, "DNS failure looking up TXT " + frame.domain);
      return;
    }
    const std::string* text = nullptr;
    size_t count = 0;
    if (answer.status == dns::Status::Ok) {
      for (const std::string& candidate : answer.texts) {
        if (isSpfRecord(candidate)) {
          text = &candidate;
          ++count;
        }
      }
    }
    if (count == 0) {
      frameResult(Result::None);
      return;
    }
    if (count > 1) {
      finish(Result::PermError, "more than one v=spf1 record at " + frame.domain);
      return;
    }
    std::string error;
    auto record = parseRecord(*text, error);
    if (!record) {
      finish(Result::PermError, error + " at " + frame.domain);
      return;
    }
    frame.record = std::move(*record);
    frame.next = 0;
    evaluateTerms();
  }

  // §4.6.2: mechanisms left to right until one matches; modifiers are skipped.
  void evaluateTerms() {
    Frame& frame = frames_.back();
    while (frame.next < frame.record.terms.size()) {
      const Term& term = frame.record.terms[frame.next];
      switch (term.kind) {
        case Term::Kind::All:
          matched();
          return;
        case Term::Kind::Ip4:
        case Term::Kind::Ip6:
          if (matchesNetwork(term)) {
            matched();
            return;
          }
          break;
        case Term::Kind::A:
        case Term::Kind::Mx:
        case Term::Kind::Ptr:
        case Term::Kind::Exists:
        case Term::Kind::Include:
          dnsTerm(term);
          return;
        case Term::Kind::Redirect:
        case Term::Kind::Exp:
        case Term::Kind::Unknown:
          break;
      }
      ++frame.next;
    }
    endOfTerms();
  }

  void matched() {
    const Frame& frame = frames_.back();
    const Term& term = frame.record.terms[frame.next];
    frameResult(qualifierResult(term.qualifier), term.text);
  }

  void noMatch() {
    ++frames_.back().next;
    evaluateTerms();
  }

  // §4.7 / §6.1: no mechanism matched.
  void endOfTerms() {
    const Frame& frame = frames_.back();
    const auto redirect = std::find_if(frame.record.terms.begin(), frame.record.terms.end(),
                                       [](const Term& term) { return term.kind == Term::Kind::Redirect; });
    if (redirect == frame.record.terms.end()) {
      frameResult(Result::Neutral);
      return;
    }
    if (!countTerm()) {
      return;
    }
    expandDomain(redirect->domain_spec, [this](std::string target) {
      Frame& current = frames_.back();
      current.domain = std::move(target);
      current.record = Record{};
      current.next = 0;
      current.redirected = true;
      checkHost();
    });
  }

  // The result of frames_.back(): the final result, or the answer to the parent's include.
  void frameResult(Result result, const std::string& mechanism = {}) {
    Frame& frame = frames_.back();
    if (result == Result::None && frame.redirected) {
      finish(Result::PermError, "redirect=" + frame.domain + " has no SPF record");
      return;
    }
    if (frame.included) {
      if (result == Result::None) {  // §5.2
        finish(Result::PermError, "include:" + frame.domain + " has no SPF record");
        return;
      }
      frames_.pop_back();
      if (result == Result::Pass) {
        matched();
      } else {
        noMatch();
      }
      return;
    }
    outcome_.mechanism = mechanism;
    const auto exp = std::find_if(frame.record.terms.begin(), frame.record.terms.end(),
                                  [](const Term& term) { return term.kind == Term::Kind::Exp; });
    if (result != Result::Fail || exp == frame.record.terms.end()) {
      finish(result);
      return;
    }
    explain(exp->domain_spec);
  }

  // ---- mechanisms (§5) ---------------------------------------------------------------------

  bool matchesNetwork(const Term& term) const {
    const bool v6 = term.kind == Term::Kind::Ip6;
    if (v6 != client_.v6) {
      return false;
    }
    const auto network = v6 ? detail::parseIp6(term.network) : detail::parseIp4(term.network);
    const int prefix = v6 ? term.cidr6 : term.cidr4;
    return network && detail::inNetwork(*network, prefix < 0 ? (v6 ? 128 : 32) : prefix, client_);
  }

  bool anyAddressMatches(const std::vector<std::string>& addresses, int prefix) const {
    return std::any_of(addresses.begin(), addresses.end(), [&](const std::string& text) {
      const auto address = client_.v6 ? detail::parseIp6(text) : detail::parseIp4(text);
      return address && detail::inNetwork(*address, prefix, client_);
    });
  }

  dns::RrType addressType() const { return client_.v6 ? dns::RrType::AAAA : dns::RrType::A; }

  // The client-family prefix of an a or mx term (§5.3, §5.4), /32 and /128 by default.
  int prefixOf(const Term& term) const {
    const int prefix = client_.v6 ? term.cidr6 : term.cidr4;
    return prefix >= 0 ? prefix : (client_.v6 ? 128 : 32);
  }

  void dnsTerm(const Term& term) {
    if (!countTerm()) {
      return;
    }
    const Term::Kind kind = term.kind;
    const int prefix = prefixOf(term);
    expandDomain(term.domain_spec, [this, kind, prefix](std::string target) {
      switch (kind) {
        case Term::Kind::A:
          addressTerm(target, prefix);
          return;
        case Term::Kind::Mx:
          mxTerm(target, prefix);
          return;
        case Term::Kind::Ptr:
          ptrTerm(std::move(target));
          return;
        case Term::Kind::Exists:
          existsTerm(target);
          return;
        default:  // Include: the only other kind dnsTerm() is called for
          frames_.push_back(Frame{std::move(target), Record{}, 0, true, false});
          checkHost();
          return;
      }
    });
  }

  // §5 and §4.6.4: a temporary failure ends the evaluation; a void answer counts.
  bool usable(const dns::Answer& answer, const std::string& what) {
    if (answer.temporary()) {
      finish(Result::TempError, "DNS failure looking up " + what);
      return false;
    }
    if (isVoid(answer)) {
      if (countVoid()) {
        noMatch();
      }
      return false;
    }
    return true;
  }

  void addressTerm(const std::string& target, int prefix) {  // §5.3
    query(target, addressType(), [this, target, prefix](const dns::Answer& answer) {
      if (!usable(answer, target)) {
        return;
      }
      if (anyAddressMatches(answer.addresses, prefix)) {
        matched();
      } else {
        noMatch();
      }
    });
  }

  void mxTerm(const std::string& target, int prefix) {  // §5.4
    query(target, dns::RrType::MX, [this, target, prefix](const dns::Answer& answer) {
      if (!usable(answer, "MX " + target)) {
        return;
      }
      if (answer.mx.size() > kMaxMxNames) {
        finish(Result::PermError, "more than 10 MX names at " + target);
        return;
      }
      mx_hosts_.clear();
      for (const dns::MxHost& mx : answer.mx) {
        if (!detail::withoutTrailingDot(mx.host).empty()) {  // not a null MX (RFC 7505)
          mx_hosts_.push_back(mx.host);
        }
      }
      mxHost(0, prefix);
    });
  }

  void mxHost(size_t index, int prefix) {
    if (index == mx_hosts_.size()) {
      noMatch();
      return;
    }
    const std::string& host = mx_hosts_[index];
    query(host, addressType(), [this, index, prefix](const dns::Answer& answer) {
      if (answer.temporary()) {
        finish(Result::TempError, "DNS failure looking up MX host " + mx_hosts_[index]);
        return;
      }
      if (answer.status == dns::Status::Ok && anyAddressMatches(answer.addresses, prefix)) {
        matched();
        return;
      }
      mxHost(index + 1, prefix);
    });
  }

  void ptrTerm(std::string target) {  // §5.5
    withValidatedNames([this, target = std::move(target)] {
      if (validated_.status == dns::Status::ServFail || validated_.status == dns::Status::Timeout) {
        finish(Result::TempError, "DNS failure looking up " + detail::reverseName(client_));
        return;
      }
      if (validated_.candidates.empty()) {
        if (countVoid()) {
          noMatch();
        }
        return;
      }
      const bool match = std::any_of(validated_.names.begin(), validated_.names.end(),
                                     [&](const std::string& name) { return detail::isSubdomainOf(name, target); });
      if (match) {
        matched();
      } else {
        noMatch();
      }
    });
  }

  void existsTerm(const std::string& target) {  // §5.7: an A lookup whatever the client family
    query(target, dns::RrType::A, [this, target](const dns::Answer& answer) {
      if (usable(answer, target)) {
        matched();
      }
    });
  }

  // §5.5: the PTR names (at most 10) whose forward lookup gives the client address. Looked up
  // once per evaluation, for the ptr mechanism and the %{p} macro alike.
  void withValidatedNames(Step then) {
    if (validated_.ready) {
      then();
      return;
    }
    query(detail::reverseName(client_), dns::RrType::PTR, [this, then = std::move(then)](const dns::Answer& answer) {
      validated_.status = answer.status;
      if (answer.status == dns::Status::Ok) {
        const size_t count = std::min(answer.names.size(), kMaxPtrNames);
        validated_.candidates.assign(answer.names.begin(), answer.names.begin() + static_cast<std::ptrdiff_t>(count));
      }
      validateName(0, then);
    });
  }

  void validateName(size_t index, Step then) {
    if (index == validated_.candidates.size()) {
      validated_.ready = true;
      then();
      return;
    }
    // A DNS error on a name skips it (§5.5).
    query(validated_.candidates[index], addressType(), [this, index, then = std::move(then)](const dns::Answer& answer) {
      if (answer.status == dns::Status::Ok && anyAddressMatches(answer.addresses, client_.v6 ? 128 : 32)) {
        validated_.names.push_back(std::string(detail::withoutTrailingDot(validated_.candidates[index])));
      }
      validateName(index + 1, then);
    });
  }

  // §7.3 %{p}: the current domain if validated, else a validated subdomain of it, else any.
  std::string validatedName() const {
    const std::string& domain = frames_.back().domain;
    for (const std::string& name : validated_.names) {
      if (ascii::equalsIgnoreCase(name, detail::withoutTrailingDot(domain))) {
        return name;
      }
    }
    for (const std::string& name : validated_.names) {
      if (detail::isSubdomainOf(name, domain)) {
        return name;
      }
    }
    return validated_.names.empty() ? std::string() : validated_.names.front();
  }

  const MacroContext& context() {
    context_.domain = frames_.back().domain;
    context_.validated_name = validatedName();
    return context_;
  }

  // The target name of a term: the expanded domain-spec, or <domain> when there is none.
  void expandDomain(std::string spec, std::function<void(std::string)> then) {
    if (spec.empty()) {
      then(frames_.back().domain);
      return;
    }
    if (!detail::scanMacros(spec, false).uses_p) {
      expandNow(spec, then);
      return;
    }
    withValidatedNames([this, spec = std::move(spec), then = std::move(then)] { expandNow(spec, then); });
  }

  void expandNow(const std::string& spec, const std::function<void(std::string)>& then) {
    auto target = expandMacros(spec, context(), false);
    if (!target) {
      finish(Result::PermError, "macro syntax error in \"" + spec + "\"");
      return;
    }
    then(std::move(*target));
  }

  // §6.2: the explanation of a fail. Any problem with it leaves the fail without one; the
  // lookup counts against no limit.
  void explain(const std::string& spec) {
    expandDomain(spec, [this](std::string target) {
      query(target, dns::RrType::TXT, [this](const dns::Answer& answer) {
        if (answer.status != dns::Status::Ok || answer.texts.size() != 1) {
          finish(Result::Fail);
          return;
        }
        std::string text = answer.texts.front();
        if (detail::scanMacros(text, true).uses_p) {
          withValidatedNames([this, text] { explainWith(text); });
          return;
        }
        explainWith(text);
      });
    });
  }

  void explainWith(const std::string& text) {
    if (auto explanation = expandMacros(text, context(), true)) {
      outcome_.explanation = std::move(*explanation);
    }
    finish(Result::Fail);
  }

  // ---- limits (§4.6.4) ---------------------------------------------------------------------

  bool countTerm() {
    if (outcome_.lookups >= kMaxDnsTerms) {
      finish(Result::PermError, "more than 10 DNS-querying terms");
      return false;
    }
    ++outcome_.lookups;
    return true;
  }

  bool countVoid() {
    if (++void_lookups_ > kMaxVoidLookups) {
      finish(Result::PermError, "more than 2 void lookups");
      return false;
    }
    return true;
  }

  Dns& dns_;
  std::function<void(Outcome)> done_;
  Outcome outcome_;
  MacroContext context_;  // <domain> and %{p} are set before each expansion
  detail::Address client_;
  std::vector<Frame> frames_;
  std::vector<std::string> mx_hosts_;
  ValidatedNames validated_;
  uint32_t void_lookups_ = 0;

  std::mutex mutex_;  // guards the hand-over below between answering threads
  Handler pending_;
  dns::AnswerPtr ready_;
  uint64_t query_id_ = 0;
  bool running_ = false;
  bool finished_ = false;
};

}  // namespace

void check(Dns& dns, const Request& request, std::function<void(Outcome)> done) {
  std::make_shared<Evaluation>(dns, std::move(done))->start(request);
}

}  // namespace mxgate::spf
