/* The portal's behaviour, in one static file: pages carry no inline script (the Content-Security-Policy
   allows none). Everything here enhances pages that also work without JavaScript. */
(function () {
  "use strict";

  // A select marked data-autosubmit sends its form when it changes (the language switcher).
  document.addEventListener("change", function (event) {
    var select = event.target.closest("select[data-autosubmit]");
    if (select && select.form) { select.form.requestSubmit(); }
  });

  // The confirm step: a form (or its submit button) with data-confirm="question" asks first, in a dialog.
  function askToConfirm(source, proceed) {
    var dialog = document.getElementById("confirm-dialog");
    var ok = document.getElementById("confirm-dialog-ok");
    if (!dialog || !window.bootstrap) { if (window.confirm(source.dataset.confirm)) { proceed(); } return; }
    document.getElementById("confirm-dialog-message").textContent = source.dataset.confirm;
    ok.textContent = source.dataset.confirmButton || ok.dataset.defaultLabel || ok.textContent;
    ok.dataset.defaultLabel = ok.dataset.defaultLabel || ok.textContent;
    ok.className = "btn " + (source.dataset.confirmVariant === "danger" ? "btn-danger" : "btn-primary");
    var modal = bootstrap.Modal.getOrCreateInstance(dialog);
    // Proceed once the dialog is gone: closing it gives the page its scrollbar back, which moves the layout; an
    // answer swapped in before that would be moved out of view.
    ok.onclick = function () {
      ok.onclick = null;
      dialog.addEventListener("hidden.bs.modal", function () { proceed(); }, { once: true });
      modal.hide();
    };
    modal.show();
  }

  function confirmSource(form, submitter) {
    if (submitter && submitter.dataset.confirm) { return submitter; }
    return form.dataset.confirm ? form : null;
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.hasAttribute("hx-post") || form.dataset.confirmed === "yes") {
      delete form.dataset.confirmed;
      return;
    }
    var source = confirmSource(form, event.submitter);
    if (!source) { return; }
    event.preventDefault();
    var submitter = event.submitter;
    askToConfirm(source, function () {
      form.dataset.confirmed = "yes";
      form.requestSubmit(submitter || undefined);
    });
  }, true);

  // htmx forgets which button was pressed once the dialog takes the focus: the choice travels in a hidden field.
  function keepSubmitterValue(form, submitter) {
    form.querySelectorAll("input[data-submitter]").forEach(function (input) { input.remove(); });
    if (!submitter || !submitter.name) { return; }
    var input = document.createElement("input");
    input.type = "hidden";
    input.name = submitter.name;
    input.value = submitter.value;
    input.dataset.submitter = "yes";
    form.appendChild(input);
  }

  document.addEventListener("htmx:confirm", function (event) {
    var trigger = event.detail.triggeringEvent;
    var submitter = trigger && trigger.submitter;
    var source = confirmSource(event.detail.elt, submitter);
    if (!source) { return; }
    event.preventDefault();
    askToConfirm(source, function () {
      if (event.detail.elt.tagName === "FORM") { keepSubmitterValue(event.detail.elt, submitter); }
      event.detail.issueRequest(true);
    });
  });

  // Messages are toasts in a fixed corner, so they are seen wherever the page is scrolled to.
  function showToasts(root) {
    if (!window.bootstrap) { return; }
    root.querySelectorAll(".toast:not([data-ready])").forEach(function (element) {
      element.dataset.ready = "yes";
      var keep = element.classList.contains("toast-error");
      bootstrap.Toast.getOrCreateInstance(element, { autohide: !keep, delay: 8000 }).show();
    });
  }

  // The gallery picker of a new search: filter by name, select the galleries shown, count the selection.
  function setUpGalleryPicker(picker) {
    if (picker.dataset.ready) { return; }
    picker.dataset.ready = "yes";
    var filter = picker.querySelector("[data-gallery-filter]");
    var options = Array.prototype.slice.call(picker.querySelectorAll("[data-gallery-option]"));
    var count = picker.querySelector("[data-gallery-count]");
    var empty = picker.querySelector("[data-gallery-empty]");

    function shown() { return options.filter(function (option) { return !option.hidden; }); }
    function refreshCount() {
      var selected = options.filter(function (option) { return option.querySelector("input").checked; }).length;
      count.textContent = count.dataset.template.replace("__SELECTED__", selected).replace("__TOTAL__", options.length);
    }
    filter.addEventListener("input", function () {
      var words = filter.value.trim().toLocaleLowerCase().split(/\s+/).filter(Boolean);
      options.forEach(function (option) {
        var name = option.dataset.galleryOption.toLocaleLowerCase();
        option.hidden = !words.every(function (word) { return name.indexOf(word) !== -1; });
      });
      empty.hidden = shown().length > 0;
    });
    picker.addEventListener("change", refreshCount);
    picker.querySelectorAll("[data-gallery-select]").forEach(function (button) {
      button.addEventListener("click", function () {
        var check = button.dataset.gallerySelect === "shown";
        (check ? shown() : options).forEach(function (option) { option.querySelector("input").checked = check; });
        refreshCount();
      });
    });
    picker.querySelectorAll("[data-js-only]").forEach(function (element) { element.hidden = false; });
    refreshCount();
  }

  // A form marked data-keep-input is sent in the background: a refusal (rate limit, a field to correct)
  // is shown on the page as it is, so the chosen photo and every field stay filled in.
  function replaceErrors(form, fresh) {
    form.querySelectorAll(".invalid-feedback, .form-errors").forEach(function (old) { old.remove(); });
    form.querySelectorAll(".is-invalid").forEach(function (input) {
      input.classList.remove("is-invalid");
      input.removeAttribute("aria-invalid");
    });
    fresh.querySelectorAll(".form-field").forEach(function (freshField) {
      var field = form.querySelector("#" + CSS.escape(freshField.id));
      var feedback = freshField.querySelector(".invalid-feedback");
      if (!field || !feedback) { return; }
      field.appendChild(feedback);
      field.querySelectorAll("input, select, textarea").forEach(function (input) {
        input.classList.add("is-invalid");
        input.setAttribute("aria-invalid", "true");
      });
    });
    var summary = fresh.querySelector(".form-errors");
    if (summary) {
      summary.tabIndex = -1;
      form.prepend(summary);
      summary.focus();
    }
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.matches("form[data-keep-input]") || !window.fetch) { return; }
    event.preventDefault();
    var button = event.submitter;
    if (button) { button.disabled = true; }
    fetch(form.action || window.location.href, { method: "POST", body: new FormData(form), credentials: "same-origin" })
      .then(function (response) {
        if (response.redirected) { window.location.assign(response.url); return null; }
        return response.text();
      })
      .then(function (html) {
        if (html === null) { return; }
        var fresh = new DOMParser().parseFromString(html, "text/html").querySelector("form[data-keep-input]");
        if (fresh) { replaceErrors(form, fresh); } else { form.submit(); }
      })
      .catch(function () { form.submit(); })
      .finally(function () { if (button) { button.disabled = false; } });
  });

  // After a review is recorded in place, its result is announced and kept in view.
  document.addEventListener("htmx:afterSwap", function (event) {
    var result = event.detail.target.querySelector ? event.detail.target.querySelector("[data-review-result]") : null;
    var swapped = document.getElementById(event.detail.target.id) || event.detail.target;
    result = result || (swapped.querySelector && swapped.querySelector("[data-review-result]"));
    if (!result) { return; }
    result.focus({ preventScroll: true });
    // The swap can move the pane (its content, or the state pill above it, changed size): bring it back.
    var box = result.getBoundingClientRect();
    if (box.top < 8 || box.bottom > window.innerHeight - 8) { result.scrollIntoView({ block: "center" }); }
  });

  function enhance(root) {
    showToasts(root);
    root.querySelectorAll("[data-gallery-picker]").forEach(setUpGalleryPicker);
  }

  document.addEventListener("DOMContentLoaded", function () { enhance(document); });
  document.addEventListener("htmx:load", function (event) { enhance(event.detail.elt); });
})();
