// The LMS page: "Copy" buttons next to the read-only values (they stay hidden without this
// file, where selecting the text works as ever), and, like keys.js, a page that shows a
// new registration URL once is the answer to a POST: its history entry becomes the plain
// page, so reloading shows the page instead of posting the form again (a second URL).
(function () {
  "use strict";
  var status = document.getElementById("copy-status");

  function say(key) {
    if (!status) return;
    // Emptied first so the same message is announced again on a second copy.
    status.textContent = "";
    window.setTimeout(function () { status.textContent = status.getAttribute(key) || ""; }, 50);
  }

  function fallback(field) {
    // Older browsers, or a page that is not a secure context: the selection and execCommand.
    field.focus();
    field.select();
    try {
      return document.execCommand("copy");
    } catch (error) {
      return false;
    }
  }

  function copy(button) {
    var field = document.getElementById(button.getAttribute("data-copy"));
    if (!field) return;
    var done = function () { say("data-copied"); button.classList.add("copied"); };
    var failed = function () {
      if (fallback(field)) { done(); } else { field.focus(); field.select(); say("data-failed"); }
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(field.value).then(done, failed);
    } else {
      failed();
    }
  }

  var buttons = document.querySelectorAll("button[data-copy]");
  for (var i = 0; i < buttons.length; i += 1) {
    buttons[i].hidden = false;
    buttons[i].addEventListener("click", function (event) { copy(event.currentTarget); });
  }

  if (document.getElementById("invite-url") && window.history && history.replaceState) {
    history.replaceState(null, "", "/console/lms");
  }
})();
