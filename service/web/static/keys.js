// The page that shows a new key once is the answer to a POST: make its history entry the
// plain keys list, so reloading (or coming back) shows the list, not the form posted again
// (which would create a second key). Without this file the browser asks before re-posting.
(function () {
  "use strict";
  if (document.getElementById("new-key-value") && window.history && history.replaceState) {
    history.replaceState(null, "", "/console/keys");
  }
})();
