// Checks a certificate's Ed25519 signature in the browser, with the published keys:
// canonical JSON (RFC 8785: keys sorted by UTF-16 code units, ECMAScript serialisation;
// the certificate holds only strings, integers, objects and arrays) and WebCrypto.
(function () {
  "use strict";
  var main = document.querySelector(".verify[data-certificate-url]");
  var out = document.getElementById("browser-verdict");
  if (!main || !out) { return; }

  function canonical(value) {
    if (Array.isArray(value)) {
      return "[" + value.map(canonical).join(",") + "]";
    }
    if (value !== null && typeof value === "object") {
      return "{" + Object.keys(value).sort().map(function (k) {
        return JSON.stringify(k) + ":" + canonical(value[k]);
      }).join(",") + "}";
    }
    return JSON.stringify(value);
  }
  function b64url(text) {
    var s = text.replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4) { s += "="; }
    var bin = atob(s), bytes = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) { bytes[i] = bin.charCodeAt(i); }
    return bytes;
  }
  function say(ok, text) {
    out.textContent = text;
    out.className = "verdict " + (ok ? "good" : "bad");
    out.dataset.result = ok ? "valid" : "invalid";
  }
  if (!window.crypto || !window.crypto.subtle) {
    say(false, "此浏览器无法本地核验（需要 HTTPS）· Browser check needs HTTPS");
    out.dataset.result = "unavailable";
    return;
  }
  Promise.all([
    fetch(main.dataset.certificateUrl).then(function (r) { return r.json(); }),
    fetch(main.dataset.keysUrl).then(function (r) { return r.json(); })
  ]).then(function (got) {
    var doc = got[0].document, keys = got[1].keys;
    var sig = doc.signatures[0];
    var key = keys.filter(function (k) { return k.kid === sig.key_id; })[0];
    if (!key) { throw new Error("unknown key"); }
    var data = new TextEncoder().encode(canonical(doc.certificate));
    return crypto.subtle.importKey("raw", b64url(key.x), { name: "Ed25519" }, false, ["verify"])
      .then(function (k) { return crypto.subtle.verify({ name: "Ed25519" }, k, b64url(sig.value), data); });
  }).then(function (valid) {
    say(valid, valid ? "✔ 浏览器核验签名有效 · Signature checked in your browser"
                     : "✘ 浏览器核验签名无效 · Signature invalid in your browser");
  }).catch(function (err) {
    say(false, "✘ 浏览器核验失败 · Browser check failed: " + err.message);
  });
})();
