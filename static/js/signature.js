// The contract's signature box (signature_pad, vendored) and the one-time code button.
(function () {
  "use strict";

  var form = document.getElementById("sign-form");
  var canvas = document.getElementById("signature-pad");
  if (!form || !canvas || !window.SignaturePad) {
    return;
  }
  var field = form.querySelector("input[name=signature]");
  var pad = new window.SignaturePad(canvas, { minWidth: 1, maxWidth: 3, penColor: "#111" });

  function resize() {
    // Draw at the screen's real resolution, keeping what was drawn.
    var data = field.value;
    var ratio = Math.max(window.devicePixelRatio || 1, 1);
    canvas.width = canvas.offsetWidth * ratio;
    canvas.height = canvas.offsetHeight * ratio;
    canvas.getContext("2d").scale(ratio, ratio);
    pad.clear();
    if (data) {
      pad.fromDataURL(data, { ratio: ratio, width: canvas.offsetWidth, height: canvas.offsetHeight });
    }
  }
  window.addEventListener("resize", resize);
  resize();

  document.getElementById("signature-clear").addEventListener("click", function () {
    pad.clear();
    field.value = "";
  });
  // The field holds the signature from the last stroke (or from the previous attempt, when
  // the page came back with an error): a redrawn image does not count as strokes.
  pad.addEventListener("endStroke", function () {
    field.value = pad.toDataURL("image/png");
  });

  var send = document.getElementById("send-code");
  var status = document.getElementById("code-status");
  send.addEventListener("click", function () {
    send.disabled = true;
    fetch(send.getAttribute("data-url"), {
      method: "POST",
      headers: { "X-CSRFToken": form.querySelector("input[name=csrfmiddlewaretoken]").value },
      credentials: "same-origin",
    })
      .then(function (response) {
        return response.json().then(function (body) {
          status.textContent = body.detail;
          status.classList.toggle("text-danger", !response.ok);
        });
      })
      .catch(function () {
        status.textContent = send.getAttribute("data-failed");
        status.classList.add("text-danger");
        send.disabled = false;
      })
      .finally(function () {
        // A new code can be asked for after a minute.
        setTimeout(function () {
          send.disabled = false;
        }, 60000);
      });
  });
})();
