// Delivery records: one per (source event, endpoint) in the deliveries stream, kept by `hash`
// and rewritten as its state changes (delivered, pending, retrying, failed). Uses SETTINGS.

var STREAM_IDS = {};

// The id of a stream given its path: from SETTINGS.streamIds (filled at deploy), else looked up.
function streamIdOf(path) {
  var found;
  if (STREAM_IDS[path]) {
    return STREAM_IDS[path];
  }
  if (SETTINGS.streamIds && SETTINGS.streamIds[path]) {
    STREAM_IDS[path] = SETTINGS.streamIds[path];
    return STREAM_IDS[path];
  }
  found = Octave.Stream.find({ filter: "path == '" + path + "'", limit: 1 });
  if (found && found.length) {
    STREAM_IDS[path] = found[0].id;
    return found[0].id;
  }
  throw new Error("stream " + path + " does not exist (deploy the bundle first)");
}

// The endpoint named `name` in SETTINGS, or null.
function endpointNamed(name) {
  var i;
  for (i = 0; i < SETTINGS.endpoints.length; i++) {
    if (SETTINGS.endpoints[i].name === name) {
      return SETTINGS.endpoints[i];
    }
  }
  return null;
}

// The stored record (elems) with this hash, or null.
function findRecord(hash) {
  var found = Octave.Event.findHash(streamIdOf(SETTINGS.deliveriesStream), hash);
  return found && found.elems ? found.elems : null;
}

// Whether the endpoint is marked gone (a 410 seen and not re-enabled since).
function endpointGone(name) {
  var found = Octave.Event.findHash(streamIdOf(SETTINGS.endpointsStream), name);
  return !!(found && found.elems && found.elems.state === "gone");
}

// The endpoint-state event that marks `name` gone after a 410.
function goneEvent(name, record, now) {
  return {
    hash: name,
    elems: { endpoint: name, state: "gone", since: now, status: 410, webhookId: record.webhookId }
  };
}

// A new record for this source event and endpoint; nothing has been attempted yet.
function newRecord(event, endpoint, now) {
  var id = webhookIdFor(event);
  var where = splitDevicePath(event.path);
  return {
    hash: deliveryHash(id, endpoint.name),
    state: "retrying",
    endpoint: endpoint.name,
    webhookId: id,
    sourceEventId: event.id,
    sourcePath: event.path,
    sourceHash: event.hash || null,
    device: where.device,
    stream: where.stream,
    deviceTime: typeof event.generatedDate === "number" ? event.generatedDate : null,
    body: buildPayload(event, id),
    attempts: 0,
    checks: 0,
    replays: 0,
    lastStatus: null,
    lastError: null,
    reason: null,
    nextAttemptAt: now,
    statusUrl: null,
    location: null,
    response: null,
    createdAt: now,
    updatedAt: now,
    deliveredAt: null,
    pendingSince: null
  };
}

// The record as an event for the deliveries stream (same hash = the same record, updated).
function recordEvent(record) {
  return { hash: record.hash, elems: record };
}

function settle(record, state, reason, now) {
  record.state = state;
  record.reason = reason;
  record.nextAttemptAt = null;
  record.updatedAt = now;
  if (state === "delivered") {
    record.deliveredAt = now;
  }
  return record;
}

function failPermanently(record, reason, now) {
  return settle(record, "failed", reason, now);
}

// Call Octave.Http; a thrown Octave.Error (network error, timeout) becomes {error: message}.
// notStarted: the runtime had no time left in this run to make the call (the local cloud says so
// in its message); nothing reached the endpoint, so it does not count as an attempt.
function httpCall(method, url, headers, body, timeout) {
  var details, message;
  var options = timeout ? { timeout: timeout } : undefined;
  try {
    if (method === "GET") {
      return { result: Octave.Http.get(url, headers, options) };
    }
    return { result: Octave.Http.post(url, headers, body, options) };
  } catch (e) {
    message = String(e && e.message ? e.message : e);
    details = e && e.details && e.details.length ? ": " + e.details.join("; ") : "";
    return { error: message + details, notStarted: message.indexOf(" not started: ") >= 0 };
  }
}

// Schedule another post, or fail after the last allowed attempt.
function retryLater(record, result, why, now) {
  var max = policyValue(SETTINGS.policy, "maxAttempts");
  var next;
  if (record.attempts >= max) {
    return failPermanently(record, "gave up after " + record.attempts + " attempts (" + why + ")", now);
  }
  next = nextRetry(result, record.attempts, SETTINGS.policy, record.webhookId, now);
  record.state = "retrying";
  record.reason = why + "; next attempt from " + next.source;
  record.nextAttemptAt = next.at;
  record.updatedAt = now;
  return record;
}

// POST the record's body to the endpoint once and apply the status policy.
// Returns {record, gone} where gone is true after a 410.
function postAttempt(record, endpoint, now) {
  var limit = policyValue(SETTINGS.policy, "bodyLimit");
  var call, result, kind;
  call = httpCall("POST", endpoint.url, webhookHeaders(endpoint, record.webhookId, now, record.body),
    record.body, endpoint.timeout);
  if (call.notStarted) {
    return { record: record, gone: false };  // still due: the next run posts it
  }
  record.attempts += 1;
  record.lastAttemptAt = now;
  if (call.error !== undefined) {
    record.lastStatus = null;
    record.lastError = call.error;
    return { record: retryLater(record, null, "network error: " + call.error, now), gone: false };
  }
  result = call.result;
  record.lastStatus = result.status;
  record.lastError = null;
  record.response = truncateText(result.content, limit);
  kind = statusClass(result.status);
  if (kind === "delivered") {
    record.location = headerValue(result.headers, "Location");
    return { record: settle(record, "delivered", null, now), gone: false };
  }
  if (kind === "pending") {
    record.statusUrl = statusUrlOf(result, endpoint.url);
    if (!record.statusUrl) {
      return { record: settle(record, "delivered", "202 without a status URL: accepted", now), gone: false };
    }
    record.state = "pending";
    record.reason = "202 accepted; status checked later";
    record.pendingSince = now;
    record.checks = 0;
    record.nextAttemptAt = nextCheck(result, 0, SETTINGS.policy, now);
    record.updatedAt = now;
    return { record: record, gone: false };
  }
  if (kind === "retry") {
    return { record: retryLater(record, result, "status " + result.status, now), gone: false };
  }
  if (kind === "gone") {
    return { record: failPermanently(record, "endpoint gone (410); no more posts until re-enabled", now), gone: true };
  }
  return { record: failPermanently(record, "permanent failure: status " + result.status, now), gone: false };
}

// Check the status URL of a pending 202 once (a GET in a later run: a different event).
function checkAttempt(record, endpoint, now) {
  var limit = policyValue(SETTINGS.policy, "bodyLimit");
  var headers = webhookHeaders(endpoint, record.webhookId, now, "");
  var call, result, kind, why;
  delete headers["Content-Type"];
  call = httpCall("GET", record.statusUrl, headers, null, endpoint.timeout);
  if (call.notStarted) {
    return record;  // still due: the next run checks it
  }
  record.checks += 1;
  record.lastAttemptAt = now;
  result = call.result || null;
  if (result) {
    record.lastStatus = result.status;
    record.lastError = null;
    record.response = truncateText(result.content, limit);
    kind = checkClass(result);
    why = "status check " + record.checks + ": " + result.status;
  } else {
    record.lastError = call.error;
    kind = "retry";
    why = "status check " + record.checks + ": network error: " + call.error;
  }
  if (kind === "delivered") {
    record.location = headerValue(result.headers, "Location") || record.location;
    return settle(record, "delivered", null, now);
  }
  if (kind === "failed") {
    return failPermanently(record, "remote operation failed (" + why + ")", now);
  }
  if (record.checks >= policyValue(SETTINGS.policy, "maxChecks")) {
    return failPermanently(record, "expired: no final status after " + record.checks + " checks", now);
  }
  if (now - record.pendingSince >= policyValue(SETTINGS.policy, "pendingExpiry") * 1000) {
    return failPermanently(record, "expired: pending since " + isoTime(record.pendingSince), now);
  }
  if (result && result.status === 202) {
    record.statusUrl = statusUrlOf(result, record.statusUrl) || record.statusUrl;
  }
  record.state = "pending";
  record.reason = why;
  record.nextAttemptAt = nextCheck(result, record.checks, SETTINGS.policy, now);
  record.updatedAt = now;
  return record;
}

// Work on one due record (retrying: post again; pending: check). Returns {record, gone}.
function advanceRecord(record, now) {
  var endpoint = endpointNamed(record.endpoint);
  if (!endpoint) {
    return { record: failPermanently(record, "endpoint " + record.endpoint + " is no longer configured", now), gone: false };
  }
  if (endpointGone(endpoint.name)) {
    return { record: failPermanently(record, "endpoint gone (410); re-enable it to deliver again", now), gone: false };
  }
  if (record.state === "pending") {
    return { record: checkAttempt(record, endpoint, now), gone: false };
  }
  return postAttempt(record, endpoint, now);
}

// The events a run returns: the records and, after a 410, the endpoint's new state.
function routeRecords(records, goneEvents) {
  var out = {};
  if (records.length) {
    out[SETTINGS.deliveriesStream] = records;
  }
  if (goneEvents.length) {
    out[SETTINGS.endpointsStream] = goneEvents;
  }
  return out;
}

// A record made due again at once with a fresh attempt budget (the webhook id stays the same).
function replayRecord(record, now) {
  record.state = "retrying";
  record.attempts = 0;
  record.checks = 0;
  record.replays = (record.replays || 0) + 1;
  record.reason = "replay " + record.replays + " requested";
  record.nextAttemptAt = now;
  record.updatedAt = now;
  return record;
}
