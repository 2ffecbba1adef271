// Progressive enhancement for the merchant pages: without it they work with a meta refresh and reloads.
// Follows a running import and the tracking pushes of new labels by polling small JSON endpoints.
(function () {
  "use strict";

  function poll(url, every, onData) {
    var stopped = false;
    function tick() {
      if (stopped) { return; }
      fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (data) {
          if (data && onData(data) === false) { stopped = true; return; }
          setTimeout(tick, every);
        })
        .catch(function () { setTimeout(tick, every * 4); });
    }
    setTimeout(tick, every);
  }

  function setText(root, selector, text) {
    var node = root.querySelector(selector);
    if (node && node.textContent !== String(text)) { node.textContent = String(text); }
  }

  var progress = document.querySelector("[data-import-progress]");
  if (progress) {
    poll(progress.getAttribute("data-import-progress"), 500, function (run) {
      ["pages", "new", "updated", "unchanged", "skipped", "state_text"].forEach(function (name) {
        setText(progress, "[data-field='" + name + "']", run[name]);
      });
      if (run.finished) { window.location.reload(); return false; }
      return true;
    });
  }

  document.querySelectorAll("[data-label-state]").forEach(function (list) {
    // Pending: still to send. Accepted: the shop confirms it later, so ask less often.
    if (!list.querySelector(".badge.pending, .badge.accepted")) { return; }
    poll(list.getAttribute("data-label-state"), list.querySelector(".badge.pending") ? 500 : 1000, function (label) {
      label.parcels.forEach(function (parcel) {
        var badge = list.querySelector("[data-parcel='" + parcel.id + "']");
        if (badge) {
          badge.className = "badge " + parcel.state;
          badge.textContent = parcel.state_text;
        }
        setText(list, "[data-parcel-message='" + parcel.id + "']", parcel.message || "");
      });
      // The order moves with its parcels: shipped once every item is in a confirmed one.
      var order = document.querySelector("[data-order-state]");
      if (order && label.order_state) {
        order.className = "badge " + label.order_state;
        if (order.textContent !== label.order_state_text) { order.textContent = label.order_state_text; }
      }
      if (label.pending) { return true; }
      // A failed push needs its Retry button, which the server renders.
      if (label.retryable) { window.location.reload(); }
      return false;
    });
  });
})();
