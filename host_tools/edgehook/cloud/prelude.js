// The Octave.* API and console for one Cloud Action or Task run (ES5). `__host(name, json)` is
// the Python bridge; it always returns JSON text {"ok": true, "result": ...} or
// {"ok": false, "error": {"message": ..., "details": [...]}} and never throws.
var Octave = (function () {
  function OctaveError(message, details) {
    this.name = "Octave.Error";
    this.message = message;
    this.details = details || [];
  }
  OctaveError.prototype = Object.create(Error.prototype);
  OctaveError.prototype.constructor = OctaveError;

  function call(name, args) {
    var reply = JSON.parse(__host(name, JSON.stringify(args)));
    if (!reply.ok) {
      throw new OctaveError(reply.error.message, reply.error.details);
    }
    return reply.result;
  }
  function headersOf(h) {
    if (h === undefined || h === null) { return {}; }
    if (typeof h !== "object") { throw new OctaveError("headers must be an object", []); }
    return h;
  }
  function bodyOf(b) {
    if (b === undefined || b === null) { return null; }
    return typeof b === "string" ? b : JSON.stringify(b);
  }
  // An extension: the optional last argument is a timeout in seconds, or {timeout: seconds}.
  function timeoutOf(opt) {
    var t = (opt !== null && typeof opt === "object") ? opt.timeout : opt;
    if (t === undefined || t === null) { return null; }
    if (typeof t !== "number" || !isFinite(t) || t <= 0) {
      throw new OctaveError("Octave.Http: timeout must be a positive number of seconds, got " + String(t), []);
    }
    return t;
  }
  function http(method, url, headers, body, opt) {
    if (typeof url !== "string") { throw new OctaveError("url must be a string", []); }
    return call("http", {method: method, url: url, headers: headersOf(headers), body: bodyOf(body),
                         timeout: timeoutOf(opt)});
  }
  function store(name) {
    return function () { return call("store", {name: name, args: Array.prototype.slice.call(arguments)}); };
  }
  return {
    Error: OctaveError,
    Http: {
      get: function (url, headers, opt) { return http("GET", url, headers, null, opt); },
      post: function (url, headers, body, opt) { return http("POST", url, headers, body, opt); },
      put: function (url, headers, body, opt) { return http("PUT", url, headers, body, opt); },
      "delete": function (url, headers, opt) { return http("DELETE", url, headers, null, opt); }
    },
    Event: {
      get: store("Event.get"),
      find: store("Event.find"),
      findOne: store("Event.findOne"),
      findHash: store("Event.findHash"),
      multifind: store("Event.multifind")
    },
    Stream: { get: store("Stream.get"), find: store("Stream.find") },
    Device: {
      getName: function () {
        if (__device === null) { throw new OctaveError("Octave.Device.getName: not a device event", []); }
        return __device;
      }
    }
  };
})();

var console = (function () {
  function text(x) {
    if (typeof x === "string") { return x; }
    try { var s = JSON.stringify(x); return s === undefined ? String(x) : s; } catch (e) { return String(x); }
  }
  function log() {
    var parts = [];
    for (var i = 0; i < arguments.length; i++) { parts.push(text(arguments[i])); }
    __host("log", JSON.stringify(parts.join(" ")));
  }
  return {log: log, info: log, warn: log, error: log, debug: log};
})();

// Date follows the server clock: a manual clock stands still at __now during the run.
Date = (function (RealDate) {
  function ServerDate() {
    var args = Array.prototype.slice.call(arguments);
    if (!(this instanceof ServerDate)) { return new RealDate(ServerDate.now()).toString(); }
    if (args.length === 0) { return new RealDate(ServerDate.now()); }
    return new (Function.prototype.bind.apply(RealDate, [null].concat(args)))();
  }
  ServerDate.prototype = RealDate.prototype;
  ServerDate.now = function () { return __frozen ? __now : RealDate.now(); };
  ServerDate.UTC = RealDate.UTC;
  ServerDate.parse = RealDate.parse;
  return ServerDate;
})(Date);

function __run(inputJson) {
  var input = inputJson === null ? undefined : JSON.parse(inputJson);
  var out;
  try {
    var result = __fn(input);
    out = {ok: true, result: result === undefined ? null : result};
  } catch (e) {
    if (e === null) {
      e = {name: "InternalError", message: "out of memory (the run's memory limit), or the script threw null"};
    }
    var isOctave = e instanceof Octave.Error;
    out = {ok: false, error: {
      name: (e && e.name) || "Error",
      message: (e && e.message !== undefined) ? String(e.message) : String(e),
      details: isOctave ? e.details : [],
      stack: (e && e.stack) ? String(e.stack).substring(0, 2000) : ""
    }};
  }
  return JSON.stringify(out);
}
