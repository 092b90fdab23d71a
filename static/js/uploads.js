// Document slots: show the chosen photo at once and upload it, so a phone user sees what
// they took before it is sent; a PDF shows its name.
(function () {
  "use strict";

  document.querySelectorAll("input[type=file][data-preview-target]").forEach(function (input) {
    input.addEventListener("change", function () {
      var slot = input.getAttribute("data-preview-target");
      var file = input.files && input.files[0];
      var preview = document.querySelector("[data-preview-for='" + slot + "']");
      var button = document.querySelector("[data-upload-button='" + slot + "']");
      if (!file) {
        return;
      }
      if (preview && file.type.indexOf("image/") === 0) {
        preview.src = URL.createObjectURL(file);
        preview.classList.remove("d-none");
      }
      if (button) {
        button.classList.remove("d-none");
        button.textContent = button.textContent.trim() + " · " + file.name;
        button.disabled = false;
      }
      // Upload at once: one tap less on a phone.
      input.form.requestSubmit ? input.form.requestSubmit(button) : input.form.submit();
      if (button) {
        button.disabled = true;
      }
    });
  });
})();
