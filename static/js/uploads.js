// Document slots: a phone photo is shrunk in the browser when it is larger than a review needs
// (modern phones take 50-megapixel pictures), shown at once, and uploaded.
(function () {
  "use strict";

  var MAX_SIDE = 3000;
  var SHRINK_ABOVE = 4 * 1024 * 1024;

  function shrink(file) {
    if (file.type.indexOf("image/") !== 0 || !window.createImageBitmap) {
      return Promise.resolve(file);
    }
    return createImageBitmap(file).then(function (bitmap) {
      var scale = Math.min(1, MAX_SIDE / Math.max(bitmap.width, bitmap.height));
      if (scale === 1 && file.size <= SHRINK_ABOVE) {
        return file;
      }
      var canvas = document.createElement("canvas");
      canvas.width = Math.round(bitmap.width * scale);
      canvas.height = Math.round(bitmap.height * scale);
      canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
      return new Promise(function (resolve) {
        canvas.toBlob(
          function (blob) {
            resolve(blob ? new File([blob], file.name.replace(/\.\w+$/, "") + ".jpg", { type: "image/jpeg" }) : file);
          },
          "image/jpeg",
          0.85
        );
      });
    }).catch(function () {
      return file; // let the server say what is wrong with it
    });
  }

  document.querySelectorAll("input[type=file][data-upload]").forEach(function (input) {
    input.addEventListener("change", function () {
      var slot = input.getAttribute("data-upload");
      var file = input.files && input.files[0];
      if (!file) {
        return;
      }
      var form = input.form;
      var status = form.querySelector("[data-upload-status]");
      var preview = document.querySelector("[data-preview-for='" + slot + "']");
      if (status) {
        status.classList.remove("d-none");
      }
      form.querySelectorAll("input[type=file]").forEach(function (other) {
        if (other !== input) {
          other.disabled = true; // only the chosen file is sent
        }
      });
      shrink(file).then(function (upload) {
        if (preview && upload.type.indexOf("image/") === 0) {
          preview.src = URL.createObjectURL(upload);
          preview.classList.remove("d-none");
        }
        if (upload !== file && window.DataTransfer) {
          var transfer = new DataTransfer();
          transfer.items.add(upload);
          input.files = transfer.files;
        }
        form.submit();
      });
    });
  });
})();
