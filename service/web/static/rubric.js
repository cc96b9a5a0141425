// Rubric editor, progressive enhancement only: without this file the "Try this answer"
// button posts the form and the page comes back with the result.
// With it: the result region updates as the teacher types (debounced), and criteria rows
// can be added without a round trip.
(function () {
  "use strict";
  var form = document.getElementById("rubric-form");
  if (!form || !window.fetch) return;
  var answer = document.getElementById("try-answer");
  var result = document.getElementById("try-result");
  var tokenInput = form.querySelector('input[name="csrftoken"]');
  var url = form.getAttribute("data-try-url");
  var timer = null;
  var sequence = 0;

  function tryNow() {
    if (!answer.value.trim()) return;
    var mine = ++sequence;
    var body = new URLSearchParams(new FormData(form));
    fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "content-type": "application/x-www-form-urlencoded",
        "x-csrftoken": tokenInput ? tokenInput.value : "",
        "accept": "text/html"
      },
      body: body.toString()
    }).then(function (response) {
      return response.text();
    }).then(function (html) {
      // Only the newest request's answer is shown (responses may arrive out of order).
      // The fragment is rendered by our own server with autoescaping.
      if (mine === sequence) result.innerHTML = html;
    }).catch(function () { /* the button still works */ });
  }

  function schedule() {
    if (timer) clearTimeout(timer);
    timer = setTimeout(tryNow, 600);
  }

  answer.addEventListener("input", schedule);
  form.addEventListener("input", function (event) {
    if (event.target !== answer && answer.value.trim()) schedule();
  });
  var button = document.getElementById("try-submit");
  button.addEventListener("click", function (event) {
    event.preventDefault();
    if (timer) clearTimeout(timer);
    tryNow();
  });

  // "Add a criterion": a copy of the last row, emptied and renumbered.
  var list = document.getElementById("criteria");
  var max = parseInt(list.getAttribute("data-max-rows"), 10) + 2;
  var add = document.createElement("button");
  add.type = "button";
  add.className = "secondary";
  add.id = "add-criterion";
  add.textContent = list.getAttribute("data-add-label") || "Add a criterion";
  list.parentNode.insertBefore(add, list.nextSibling);
  add.addEventListener("click", function () {
    var rows = list.querySelectorAll("fieldset.criterion");
    if (rows.length >= max) return;
    var last = rows[rows.length - 1];
    var copy = last.cloneNode(true);
    var n = rows.length;
    copy.id = "criterion-" + n;
    copy.setAttribute("data-row", String(n));
    var legend = copy.querySelector("legend");
    legend.textContent = legend.textContent.replace(/\d+\s*$/, String(n + 1));
    copy.querySelectorAll(".field-error, .hint").forEach(function (el) { el.remove(); });
    copy.querySelectorAll("input, textarea").forEach(function (el) {
      var field = el.id.replace(/^criterion-\d+-/, "");
      el.id = "criterion-" + n + "-" + field;
      el.value = "";
      el.removeAttribute("aria-invalid");
      el.removeAttribute("aria-describedby");
    });
    copy.querySelectorAll("label").forEach(function (label) {
      var field = label.getAttribute("for").replace(/^criterion-\d+-/, "");
      label.setAttribute("for", "criterion-" + n + "-" + field);
    });
    list.appendChild(copy);
    copy.querySelector("input").focus();
  });
})();
