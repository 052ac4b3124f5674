// The status policy: what one HTTP answer means for a delivery, and when to try again.
// The table is in cloud/README.md ("Delivery contract"); policy values come from SETTINGS.policy.

var POLICY_DEFAULTS = {
  retrySchedule: [5, 30, 120, 600, 1800, 3600, 7200], // seconds before retry n (last one repeats)
  maxAttempts: 8,         // posts per delivery, the first included
  jitter: 0.2,            // +-20 % on schedule delays, derived from the webhook id (reproducible)
  retryAfterMin: 1,       // Retry-After is clamped to [min, max] seconds
  retryAfterMax: 3600,
  pollSchedule: [5, 15, 30, 60, 120, 300, 600], // seconds before status check n of a 202
  maxChecks: 20,          // status checks of a 202 before it fails as expired
  pendingExpiry: 86400,   // seconds a 202 may stay pending before it fails as expired
  firstAttemptLease: 30,  // seconds before the task makes a first attempt the deliver action did not
  bodyLimit: 512          // characters of a response body kept in the record
};

// A policy value: the setting when given, else the default.
function policyValue(policy, name) {
  return policy && policy[name] !== undefined && policy[name] !== null ? policy[name] : POLICY_DEFAULTS[name];
}

// A header of an Octave.Http result, looked up without regard to case; null when absent.
function headerValue(headers, name) {
  var key, value;
  var wanted = name.toLowerCase();
  if (!headers) {
    return null;
  }
  for (key in headers) {
    if (Object.prototype.hasOwnProperty.call(headers, key) && key.toLowerCase() === wanted) {
      value = headers[key];
      if (Object.prototype.toString.call(value) === "[object Array]") {
        value = value.join(", ");
      }
      return value === undefined || value === null ? null : String(value);
    }
  }
  return null;
}

// The class of a POST's status: delivered | pending | retry | gone | failed.
function statusClass(status) {
  if (status === 202) {
    return "pending";
  }
  if (status >= 200 && status < 300) {
    return "delivered";
  }
  if (status === 408 || status === 425 || status === 429 || (status >= 500 && status < 600)) {
    return "retry";
  }
  if (status === 410) {
    return "gone";
  }
  return "failed"; // 1xx, 3xx (never followed), other 4xx, anything outside HTTP
}

var HTTP_MONTHS = { jan: 0, feb: 1, mar: 2, apr: 3, may: 4, jun: 5, jul: 6, aug: 7, sep: 8, oct: 9, nov: 10, dec: 11 };

// An HTTP date (RFC 9110 §5.6.7: IMF-fixdate, RFC 850, asctime) in ms; null when it is not one.
function parseHttpDate(text) {
  var m = /^\s*(?:[A-Za-z]+,\s*)?(\d{1,2})[\s-]+([A-Za-z]{3})[\s-]+(\d{2,4})\s+(\d{1,2}):(\d{2}):(\d{2})\s*(?:GMT|UTC|Z)?\s*$/.exec(text);
  var year, month;
  if (!m) {
    m = /^\s*[A-Za-z]{3}\s+([A-Za-z]{3})\s+(\d{1,2})\s+(\d{1,2}):(\d{2}):(\d{2})\s+(\d{4})\s*$/.exec(text);
    if (!m || HTTP_MONTHS[m[1].toLowerCase()] === undefined) {
      return null;
    }
    return Date.UTC(+m[6], HTTP_MONTHS[m[1].toLowerCase()], +m[2], +m[3], +m[4], +m[5]);
  }
  month = HTTP_MONTHS[m[2].toLowerCase()];
  if (month === undefined) {
    return null;
  }
  year = +m[3];
  if (m[3].length === 2) {
    year += year < 70 ? 2000 : 1900;
  }
  return Date.UTC(year, month, +m[1], +m[4], +m[5], +m[6]);
}

// Retry-After as seconds from now (delay-seconds or an HTTP date); null when absent or bad.
function parseRetryAfter(value, nowMs) {
  var when;
  if (value === null || value === undefined) {
    return null;
  }
  value = String(value);
  if (/^\s*\d+\s*$/.test(value)) {
    return parseInt(value, 10);
  }
  when = parseHttpDate(value);
  if (when === null || isNaN(when)) {
    return null;
  }
  return Math.max(0, Math.ceil((when - nowMs) / 1000));
}

function clamp(value, low, high) {
  return Math.min(high, Math.max(low, value));
}

// Seconds before retry number `attempts` (1 = after the first post): the schedule with jitter.
function retryDelay(attempts, policy, key) {
  var schedule = policyValue(policy, "retrySchedule");
  var base = schedule[Math.min(Math.max(attempts, 1), schedule.length) - 1];
  var jitter = policyValue(policy, "jitter");
  var unit = fnv1a(key + "#" + attempts) / 4294967296; // in [0, 1)
  return Math.max(1, Math.round(base * (1 + jitter * (2 * unit - 1))));
}

// When to try again after a retryable answer: {at, source}, Retry-After winning when present.
function nextRetry(result, attempts, policy, key, nowMs) {
  var after = result ? parseRetryAfter(headerValue(result.headers, "Retry-After"), nowMs) : null;
  if (after !== null) {
    after = clamp(after, policyValue(policy, "retryAfterMin"), policyValue(policy, "retryAfterMax"));
    return { at: nowMs + after * 1000, source: "retry-after" };
  }
  return { at: nowMs + retryDelay(attempts, policy, key) * 1000, source: "schedule" };
}

// When to check a pending 202 again: Retry-After when present (clamped), else the poll schedule.
function nextCheck(result, checks, policy, nowMs) {
  var after = result ? parseRetryAfter(headerValue(result.headers, "Retry-After"), nowMs) : null;
  var schedule = policyValue(policy, "pollSchedule");
  if (after !== null) {
    return nowMs + clamp(after, policyValue(policy, "retryAfterMin"), policyValue(policy, "retryAfterMax")) * 1000;
  }
  return nowMs + schedule[Math.min(checks, schedule.length - 1)] * 1000;
}

function parseJsonObject(text) {
  var value;
  try {
    value = JSON.parse(text);
  } catch (e) {
    return null;
  }
  return value !== null && typeof value === "object" ? value : null;
}

// An absolute URL from a Location-like value, resolved against the request URL; null if unusable.
function resolveUrl(value, base) {
  var origin;
  if (!value || typeof value !== "string") {
    return null;
  }
  if (/^https?:\/\//i.test(value)) {
    return value;
  }
  origin = /^(https?:\/\/[^\/?#]+)/i.exec(base || "");
  if (origin && value.charAt(0) === "/") {
    return origin[1] + value;
  }
  return null;
}

// The status URL of a 202: Operation-Location, Azure-AsyncOperation, Location, or a URL in the body.
function statusUrlOf(result, requestUrl) {
  var names = ["Operation-Location", "Azure-AsyncOperation", "Location", "Content-Location"];
  var keys = ["statusUrl", "status_url", "statusQueryGetUri", "operationLocation", "location", "href", "url"];
  var i, url, body;
  for (i = 0; i < names.length; i++) {
    url = resolveUrl(headerValue(result.headers, names[i]), requestUrl);
    if (url) {
      return url;
    }
  }
  body = parseJsonObject(result.content);
  if (body && body.links && typeof body.links === "object") {
    url = resolveUrl(body.links.status || body.links.self, requestUrl);
    if (url) {
      return url;
    }
  }
  for (i = 0; body && i < keys.length; i++) {
    url = resolveUrl(body[keys[i]], requestUrl);
    if (url) {
      return url;
    }
  }
  return null;
}

var DONE_WORDS = ["succeeded", "success", "successful", "completed", "complete", "done", "delivered", "created", "ok", "finished"];
var FAILED_WORDS = ["failed", "failure", "error", "errored", "canceled", "cancelled", "rejected", "aborted", "terminated"];

// The outcome of a status check of a 202: delivered | failed | pending | retry.
// Long-running-operation convention: a status field Succeeded/Failed/Running, or the HTTP status.
function checkClass(result) {
  var body, word, i;
  var status = result.status;
  if (status === 202) {
    return "pending";
  }
  if (status === 200) {
    body = parseJsonObject(result.content);
    word = body ? (body.status || body.state || body.operationStatus || body.runtimeStatus) : null;
    if (typeof word !== "string") {
      return "delivered"; // a 200 without a status field: the operation has its result
    }
    word = word.toLowerCase().replace(/[^a-z]/g, "");
    for (i = 0; i < DONE_WORDS.length; i++) {
      if (word === DONE_WORDS[i]) {
        return "delivered";
      }
    }
    for (i = 0; i < FAILED_WORDS.length; i++) {
      if (word === FAILED_WORDS[i]) {
        return "failed";
      }
    }
    return "pending"; // NotStarted, Running, InProgress, Queued, ...
  }
  if ((status > 200 && status < 300) || status === 303) {
    return "delivered";
  }
  if (status === 408 || status === 425 || status === 429 || (status >= 500 && status < 600)) {
    return "retry";
  }
  return "failed"; // 404/410 (operation unknown), other 3xx/4xx
}

// At most `limit` characters of a response body, marked when cut.
function truncateText(text, limit) {
  text = text === null || text === undefined ? "" : String(text);
  return text.length > limit ? text.substring(0, limit) + "...[" + text.length + " chars]" : text;
}
