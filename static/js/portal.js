// Small behaviours wired by data attributes, so templates carry no inline script.
(function () {
  "use strict";

  // <button data-confirm="Are you sure?"> inside a form: ask before submitting.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-confirm]");
    if (button && !window.confirm(button.getAttribute("data-confirm"))) {
      event.preventDefault();
    }
  });

  // <button data-copy-target="#id" data-copied-label="Copied">: copy the target's value.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy-target]");
    if (!button) {
      return;
    }
    var target = document.querySelector(button.getAttribute("data-copy-target"));
    if (!target) {
      return;
    }
    target.select();
    var done = function () {
      button.textContent = button.getAttribute("data-copied-label") || "OK";
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(target.value).then(done);
    } else {
      document.execCommand("copy");
      done();
    }
  });
})();
