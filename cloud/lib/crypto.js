// UTF-8, SHA-256, HMAC-SHA256, base64 and hex in plain ES5.1: Octave's runner has no crypto.
// Byte strings are arrays of integers 0..255. Tested against Python's hashlib/hmac/base64.

var SHA256_K = [
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2
];

var BASE64_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// A JS string (UTF-16) as UTF-8 bytes; lone surrogates become U+FFFD as in TextEncoder.
function utf8Encode(text) {
  var out = [];
  var i, c, d;
  for (i = 0; i < text.length; i++) {
    c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
      } else {
        c = 0xfffd;
      }
    } else if (c >= 0xd800 && c <= 0xdfff) {
      c = 0xfffd;
    }
    if (c < 0x80) {
      out.push(c);
    } else if (c < 0x800) {
      out.push(0xc0 | (c >> 6), 0x80 | (c & 63));
    } else if (c < 0x10000) {
      out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
    } else {
      out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 63), 0x80 | ((c >> 6) & 63), 0x80 | (c & 63));
    }
  }
  return out;
}

function sha256RotR(x, n) {
  return (x >>> n) | (x << (32 - n));
}

// One 64-byte block of SHA-256 (FIPS 180-4 §6.2.2) folded into the state h.
function sha256Block(h, w, bytes, offset) {
  var i, s0, s1, a, b, c, d, e, f, g, hh, t1, t2;
  for (i = 0; i < 16; i++) {
    w[i] = (bytes[offset + 4 * i] << 24) | (bytes[offset + 4 * i + 1] << 16) |
      (bytes[offset + 4 * i + 2] << 8) | bytes[offset + 4 * i + 3];
  }
  for (i = 16; i < 64; i++) {
    s0 = sha256RotR(w[i - 15], 7) ^ sha256RotR(w[i - 15], 18) ^ (w[i - 15] >>> 3);
    s1 = sha256RotR(w[i - 2], 17) ^ sha256RotR(w[i - 2], 19) ^ (w[i - 2] >>> 10);
    w[i] = (w[i - 16] + s0 + w[i - 7] + s1) | 0;
  }
  a = h[0]; b = h[1]; c = h[2]; d = h[3]; e = h[4]; f = h[5]; g = h[6]; hh = h[7];
  for (i = 0; i < 64; i++) {
    s1 = sha256RotR(e, 6) ^ sha256RotR(e, 11) ^ sha256RotR(e, 25);
    t1 = (hh + s1 + ((e & f) ^ (~e & g)) + SHA256_K[i] + w[i]) | 0;
    s0 = sha256RotR(a, 2) ^ sha256RotR(a, 13) ^ sha256RotR(a, 22);
    t2 = (s0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
    hh = g; g = f; f = e; e = (d + t1) | 0; d = c; c = b; b = a; a = (t1 + t2) | 0;
  }
  h[0] = (h[0] + a) | 0; h[1] = (h[1] + b) | 0; h[2] = (h[2] + c) | 0; h[3] = (h[3] + d) | 0;
  h[4] = (h[4] + e) | 0; h[5] = (h[5] + f) | 0; h[6] = (h[6] + g) | 0; h[7] = (h[7] + hh) | 0;
}

// SHA-256 of a byte array, as a 32-byte array.
function sha256(bytes) {
  var h = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];
  var w = new Array(64);
  var msg = bytes.slice(0);
  var bitLen = bytes.length * 8;
  var i, out;
  msg.push(0x80);
  while (msg.length % 64 !== 56) {
    msg.push(0);
  }
  // 64-bit big-endian length; the high word only matters above 512 MB.
  var high = Math.floor(bitLen / 0x100000000);
  msg.push((high >>> 24) & 255, (high >>> 16) & 255, (high >>> 8) & 255, high & 255);
  msg.push((bitLen >>> 24) & 255, (bitLen >>> 16) & 255, (bitLen >>> 8) & 255, bitLen & 255);
  for (i = 0; i < msg.length; i += 64) {
    sha256Block(h, w, msg, i);
  }
  out = [];
  for (i = 0; i < 8; i++) {
    out.push((h[i] >>> 24) & 255, (h[i] >>> 16) & 255, (h[i] >>> 8) & 255, h[i] & 255);
  }
  return out;
}

// HMAC-SHA256 (RFC 2104) of byte arrays key and message, as a 32-byte array.
function hmacSha256(key, message) {
  var k = key.length > 64 ? sha256(key) : key.slice(0);
  var inner = [];
  var outer = [];
  var i;
  while (k.length < 64) {
    k.push(0);
  }
  for (i = 0; i < 64; i++) {
    inner.push(k[i] ^ 0x36);
    outer.push(k[i] ^ 0x5c);
  }
  return sha256(outer.concat(sha256(inner.concat(message))));
}

// Standard base64 (RFC 4648 §4) with padding.
function base64Encode(bytes) {
  var out = "";
  var i, n;
  for (i = 0; i + 2 < bytes.length; i += 3) {
    n = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    out += BASE64_CHARS.charAt(n >> 18) + BASE64_CHARS.charAt((n >> 12) & 63) +
      BASE64_CHARS.charAt((n >> 6) & 63) + BASE64_CHARS.charAt(n & 63);
  }
  if (bytes.length - i === 1) {
    n = bytes[i] << 16;
    out += BASE64_CHARS.charAt(n >> 18) + BASE64_CHARS.charAt((n >> 12) & 63) + "==";
  } else if (bytes.length - i === 2) {
    n = (bytes[i] << 16) | (bytes[i + 1] << 8);
    out += BASE64_CHARS.charAt(n >> 18) + BASE64_CHARS.charAt((n >> 12) & 63) +
      BASE64_CHARS.charAt((n >> 6) & 63) + "=";
  }
  return out;
}

// Standard base64 to bytes; throws Error on a character outside the alphabet or bad length.
function base64Decode(text) {
  var clean = text.replace(/=+$/, "");
  var out = [];
  var bits = 0;
  var value = 0;
  var i, idx;
  if (clean.length % 4 === 1) {
    throw new Error("base64: bad length");
  }
  for (i = 0; i < clean.length; i++) {
    idx = BASE64_CHARS.indexOf(clean.charAt(i));
    if (idx < 0) {
      throw new Error("base64: bad character at " + i);
    }
    value = ((value << 6) | idx) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push((value >> bits) & 255);
    }
  }
  return out;
}

// Lowercase hex of a byte array.
function hexEncode(bytes) {
  var out = "";
  var i;
  for (i = 0; i < bytes.length; i++) {
    out += (bytes[i] < 16 ? "0" : "") + bytes[i].toString(16);
  }
  return out;
}
