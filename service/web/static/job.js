// While a job runs, reload its page every two seconds (without JS: the Refresh link).
(function () {
  "use strict";
  window.setTimeout(function () { window.location.reload(); }, 2000);
})();
