// LTI pages inside the LMS: submit a hand-off form at once (the button is there without
// JavaScript), count an answer's words as the learner types, and tell the LMS that a
// dynamic registration is done. No inline script: the CSP forbids it.
(function () {
  "use strict";
  var handoff = document.querySelector("form[data-autosubmit]");
  if (handoff) { handoff.submit(); }

  var answer = document.querySelector("textarea[data-word-count]");
  var counter = answer && document.getElementById(answer.getAttribute("data-word-count"));
  if (answer && counter) {
    var template = counter.getAttribute("data-template") || "{n}";
    var update = function () {
      var words = answer.value.trim() ? answer.value.trim().split(/\s+/).length : 0;
      counter.textContent = template.replace("{n}", String(words));
    };
    answer.addEventListener("input", update);
    update();
  }

  if (document.body.classList.contains("lti-registered")) {
    // LTI Dynamic Registration: the platform's page closes our window or iframe.
    var target = window.opener || window.parent;
    if (target && target !== window) {
      target.postMessage({ subject: "org.imsglobal.lti.close" }, "*");
    }
  }
})();
