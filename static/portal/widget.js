/*
 * The billing portal widget: a balance badge with a "Top up" button on any page, opening the portal in a modal.
 *
 *   <div id="billing-badge"></div>
 *   <script src="https://billing.example.com/static/portal/widget.js"></script>
 *   <script>
 *     BillingWidget.mount({
 *       portal: "https://billing.example.com",   // where the portal runs
 *       target: "#billing-badge",                // an element or a selector
 *       getToken: () => fetch("/billing-token").then(r => r.text()),  // your back end signs it (README)
 *     });
 *   </script>
 *
 * `token` (a string) may be given instead of `getToken`; tokens are short-lived, so `getToken` is asked again each
 * time the modal opens. No dependencies; nothing is loaded from anywhere but the portal.
 */
(function () {
  "use strict";

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) { node.setAttribute(name, attrs[name]); });
    if (text) node.textContent = text;
    return node;
  }

  function tokenOf(options) {
    if (typeof options.getToken === "function") return Promise.resolve(options.getToken());
    return Promise.resolve(options.token);
  }

  function openModal(options, token, path, labels) {
    var previous = document.activeElement;
    var overlay = el("div", { "class": "billing-widget-overlay", "data-billing-widget": "modal" });
    overlay.style.cssText = "position:fixed;inset:0;background:rgba(20,24,32,.55);z-index:2147483000;" +
      "display:flex;align-items:center;justify-content:center;";
    var box = el("div", { role: "dialog", "aria-modal": "true", "aria-label": labels.top_up });
    box.style.cssText = "background:#fff;border-radius:10px;width:min(960px,96vw);height:min(760px,92vh);" +
      "display:flex;flex-direction:column;overflow:hidden;box-shadow:0 10px 40px rgba(0,0,0,.3);";
    var close = el("button", { type: "button", "aria-label": labels.close }, "×");
    close.style.cssText = "align-self:flex-end;font:24px/1 sans-serif;border:0;background:none;padding:8px 14px;" +
      "cursor:pointer;color:#1d2330;";
    var src = options.portal.replace(/\/$/, "") + "/portal/widget/?token=" + encodeURIComponent(token) +
      "&next=" + encodeURIComponent(path);
    var frame = el("iframe", { src: src, title: labels.top_up });
    frame.style.cssText = "flex:1;border:0;width:100%;";
    var portalOrigin = new URL(options.portal, window.location.href).origin;
    function shut() {
      document.removeEventListener("keydown", onKey);
      window.removeEventListener("message", onMessage);
      overlay.remove();
      if (previous && previous.focus) previous.focus();
      if (typeof options.onClose === "function") options.onClose();
      refresh(options);
    }
    function onKey(event) { if (event.key === "Escape") shut(); }
    function onMessage(event) {  // Escape pressed inside the portal's frame
      if (event.origin === portalOrigin && event.data && event.data.type === "billing-widget:close") shut();
    }
    close.addEventListener("click", shut);
    overlay.addEventListener("click", function (event) { if (event.target === overlay) shut(); });
    document.addEventListener("keydown", onKey);
    window.addEventListener("message", onMessage);
    box.appendChild(close);
    box.appendChild(frame);
    overlay.appendChild(box);
    document.body.appendChild(overlay);
    close.focus();
  }

  function render(options, data) {
    var target = options.targetNode;
    target.textContent = "";
    var badge = el("span", { "class": "billing-widget-badge", "data-billing-widget": "badge" });
    badge.style.cssText = "display:inline-flex;align-items:center;gap:.6em;font:14px/1.4 system-ui,sans-serif;" +
      "border:1px solid #d5d9e0;border-radius:999px;padding:.25em .4em .25em .9em;background:#fff;color:#1d2330;";
    var amount = el("span", { "data-billing-widget": "balance" }, data.labels.balance + ": " + data.balance);
    var button = el("button", { type: "button", "data-billing-widget": "top-up" }, data.labels.top_up);
    button.style.cssText = "font:inherit;border:0;border-radius:999px;padding:.3em .9em;background:#0b5cad;" +
      "color:#fff;cursor:pointer;";
    button.addEventListener("click", function () {
      tokenOf(options).then(function (token) { openModal(options, token, "/portal/topup/", data.labels); });
    });
    badge.appendChild(amount);
    badge.appendChild(button);
    target.appendChild(badge);
  }

  function refresh(options) {
    return tokenOf(options).then(function (token) {
      var url = options.portal.replace(/\/$/, "") + "/portal/widget/summary/?token=" + encodeURIComponent(token);
      return fetch(url, { credentials: "omit" });
    }).then(function (response) {
      if (!response.ok) throw new Error("billing widget: " + response.status);
      return response.json();
    }).then(function (data) { render(options, data); return data; });
  }

  function mount(options) {
    if (!options || !options.portal) throw new Error("billing widget: `portal` is required");
    var target = typeof options.target === "string" ? document.querySelector(options.target) : options.target;
    if (!target) throw new Error("billing widget: no target element");
    options.targetNode = target;
    return refresh(options);
  }

  window.BillingWidget = { mount: mount };
})();
