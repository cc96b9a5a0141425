// Progressive enhancement only: every page works without this file.
// Keyboard shortcuts declared in markup: <a data-shortcut="n" href="...">.
(function () {
  "use strict";
  document.addEventListener("keydown", function (event) {
    if (event.altKey || event.ctrlKey || event.metaKey) return;
    var target = event.target;
    if (target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName))) return;
    var link = document.querySelector('[data-shortcut="' + CSS.escape(event.key) + '"]');
    if (link) {
      event.preventDefault();
      if (link.tagName === "A") { window.location.assign(link.href); } else { link.focus(); link.click(); }
    }
  });
})();
