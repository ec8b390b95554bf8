// The till's camera: scans a redemption code's QR code with the vendored qr-scanner
// (decoded in its Web Worker; the page's CSP allows `worker-src blob:` for it), puts the
// code in the form and submits it. Without a camera (or camera permission) the button
// stays hidden and the code is typed.
(function () {
  "use strict";
  var form = document.getElementById("till-form");
  var input = document.getElementById("code");
  var start = document.getElementById("scan");
  var stop = document.getElementById("scan-stop");
  var video = document.getElementById("scan-video");
  var status = document.getElementById("scan-status");
  if (!form || !input || !start || !window.QrScanner) { return; }
  var scanner = null;

  function say(text) { status.textContent = text; }

  function halt() {
    if (scanner) { scanner.stop(); scanner.destroy(); scanner = null; }
    video.hidden = true;
    stop.hidden = true;
    start.hidden = false;
  }

  function submit() {
    if (window.htmx) { window.htmx.trigger(form, "submit"); } else { form.requestSubmit(); }
  }

  window.QrScanner.hasCamera().then(function (has) { start.hidden = !has; });

  start.addEventListener("click", function () {
    video.hidden = false;
    start.hidden = true;
    stop.hidden = false;
    say("对准兑换码二维码 · Point the camera at the QR code");
    scanner = new window.QrScanner(video, function (result) {
      input.value = result.data;
      say("已识别 · Read: " + result.data);
      halt();
      submit();
    }, { returnDetailedScanResult: true, preferredCamera: "environment" });
    scanner.start().catch(function (err) {
      say("无法使用摄像头 · The camera is not available: " + err);
      halt();
    });
  });
  stop.addEventListener("click", function () { halt(); say(""); });

  // After each result the field is cleared and ready for the next customer.
  document.body.addEventListener("htmx:afterSwap", function (e) {
    if (e.detail.target && e.detail.target.id === "till-result") {
      input.value = "";
      input.focus();
    }
  });
})();
