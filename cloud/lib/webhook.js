// Standard Webhooks v1 signing and the JSON payload that describes one reading.
// Spec: webhook-id, webhook-timestamp (unix seconds), webhook-signature "v1,<base64 HMAC-SHA256
// of id.timestamp.body>"; secrets in "whsec_<base64>" form (a bare base64 secret also works).

// The secret's key bytes: "whsec_" prefix removed, the rest base64-decoded.
function webhookSecretBytes(secret) {
  var text = String(secret || "");
  if (text.indexOf("whsec_") === 0) {
    text = text.substring(6);
  }
  if (!text) {
    throw new Error("webhook secret is empty");
  }
  return base64Decode(text);
}

// "v1,<base64>" for the body sent with this id and timestamp (seconds).
function webhookSignature(secret, id, timestamp, body) {
  var content = utf8Encode(id + "." + timestamp + "." + body);
  return "v1," + base64Encode(hmacSha256(webhookSecretBytes(secret), content));
}

// Headers of one attempt: Standard Webhooks headers, Idempotency-Key, then the endpoint's own.
function webhookHeaders(endpoint, id, timestampMs, body) {
  var timestamp = String(Math.floor(timestampMs / 1000));
  var headers = {};
  var extra = endpoint.headers || {};
  var name;
  for (name in extra) {
    if (Object.prototype.hasOwnProperty.call(extra, name)) {
      headers[name] = String(extra[name]);
    }
  }
  headers["Content-Type"] = "application/json";
  headers["User-Agent"] = "edgehook-webhooks/1";
  headers["webhook-id"] = id;
  headers["webhook-timestamp"] = timestamp;
  headers["webhook-signature"] = webhookSignature(endpoint.secret, id, timestamp, body);
  headers["Idempotency-Key"] = id;
  return headers;
}

// 32-bit multiplication modulo 2^32 (Math.imul is ES6).
function mul32(a, b) {
  var al = a & 0xffff;
  var ah = (a >>> 16) & 0xffff;
  return ((al * b) + (((ah * b) & 0xffff) << 16)) | 0;
}

// A small stable hash (FNV-1a, 32 bit), used for deterministic jitter.
function fnv1a(text) {
  var h = 0x811c9dc5 | 0;
  var i;
  for (i = 0; i < text.length; i++) {
    h = mul32(h ^ (text.charCodeAt(i) & 0xffff), 0x01000193);
  }
  return h >>> 0;
}

// The webhook id of a source event: stable across retries and re-uploads, because it derives
// from the event's hash (device + resource + device timestamp, set by the bridge) or its id.
function webhookIdFor(event) {
  var key = event.hash ? "hash:" + event.path + ":" + event.hash : "id:" + event.id;
  return "msg_" + hexEncode(sha256(utf8Encode(key))).substring(0, 32);
}

// The hash of the delivery record of (source event, endpoint) in the deliveries stream.
function deliveryHash(webhookId, endpointName) {
  return webhookId + ":" + endpointName;
}

// The device name and stream name of a device stream path /<co>/devices/<device>/<stream>.
function splitDevicePath(path) {
  var parts = String(path || "").split("/");
  if (parts.length >= 5 && parts[2] === "devices") {
    return { company: parts[1], device: parts[3], stream: parts.slice(4).join("/") };
  }
  return { company: parts[1] || "", device: null, stream: parts.slice(2).join("/") };
}

function isoTime(ms) {
  return typeof ms === "number" && isFinite(ms) ? new Date(ms).toISOString() : null;
}

// The JSON body describing one reading: what, from where, measured when (device time).
function buildPayload(event, webhookId) {
  var where = splitDevicePath(event.path);
  var when = typeof event.generatedDate === "number" ? event.generatedDate : event.creationDate;
  return JSON.stringify({
    type: "reading",
    id: webhookId,
    device: where.device,
    stream: where.stream,
    path: event.path,
    timestamp: when,
    time: isoTime(when),
    receivedAt: event.creationDate,
    elems: event.elems,
    location: event.location || null,
    eventId: event.id,
    eventHash: event.hash || null
  });
}
