// The outbound stage list: what an authenticated tenant's message (SMTP submission or the HTTP
// send API) passes before its 250/202, in this order — sender binding (the envelope and header
// sender domains are the tenant's own), scheduled send (an SMTP submission's X-Mxgate-Send-At
// field), suppression (helper bounces: recipients on the tenant's suppression list are
// refused), tracking (the tenant's [tracking]: click links, open pixel, RFC 8058
// List-Unsubscribe; it replaces the content), DKIM signing (RFC 6376/8463, with the tenant's keys;
// always last, so it signs the bytes that will be delivered). One file per stage under
// src/pipeline/stages/. Built on the session's loop thread at MAIL.
#pragma once

#include <memory>
#include <string_view>
#include <vector>

#include "mxgate/pipeline/stage.h"

namespace mxgate::pipeline {

// The stages of one outbound transaction (transaction.origin != Inbound), in order.
std::vector<std::unique_ptr<Stage>> outboundStages(const Context& context);

std::unique_ptr<Stage> makeSenderBindingStage(const Context& context);

// Sender binding at MAIL: an authenticated tenant's reverse path must be at one of its domains
// (exact, case-insensitive), else Reject with 550 5.7.1 (reason "sender_binding"). The null
// reverse path is accepted: an application's auto-reply or report may use it (RFC 3834 §3.3),
// its header From is bound all the same, and no DSN ever goes to it.
Decision bindEnvelopeSender(const config::Config& config, std::string_view tenant, const mail::Address& sender);
// Sender binding of the header section: every From and Sender mailbox and the d= of every
// DKIM-Signature already present must be at the tenant's domains; a foreign one, or a field
// that cannot be read, rejects the whole message with 550 5.7.1 (reason "sender_binding").
Decision bindHeaderSenders(const config::Config& config, std::string_view tenant, std::string_view header_section);
// The sending tenant's limits (message_rate, daily_cap) for one more message, asked when its
// transaction starts (SMTP MAIL, a send API request): Continue (and counted), or TempFail
// with 451 4.7.0 naming the limit and when to retry (retry_after_s; reason "tenant_limit").
Decision admitTenantMessage(Services* services, std::string_view tenant);
// Reads an SMTP submission's X-Mxgate-Send-At field into transaction.send_at_us; a field that
// is not a time, repeated, or beyond queue.send_at_horizon rejects the message (550 5.6.0,
// reason "send_at").
std::unique_ptr<Stage> makeScheduledSendStage(const Context& context);
// Refuses a recipient on the sending tenant's suppression list at RCPT (550 5.1.1, event
// message.suppressed). Needs context.services->suppressions.
std::unique_ptr<Stage> makeSuppressionStage(const Context& context);
// Click and open tracking and one-click unsubscribe per the tenant's [tracking] policy (and the
// transaction's list_unsubscribe), on the auth lane; needs context.services->auth_lane and
// link_keys (without keys the list has no tracking stage).
std::unique_ptr<Stage> makeTrackingStage(const Context& context);
// DKIM signing of the final content (it waits for the earlier stages); needs the auth lane.
std::unique_ptr<Stage> makeDkimSignStage(const Context& context);

}  // namespace mxgate::pipeline
