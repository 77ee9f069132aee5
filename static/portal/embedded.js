/* Inside the widget's modal: Escape closes the modal from within the portal's frame too (the page that embeds us
 * listens for this message from the portal's origin only; we send it to the embedding origin only). */
(function () {
  "use strict";
  var parentOrigin = document.body.getAttribute("data-parent-origin");
  if (!parentOrigin || window.parent === window) return;
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") window.parent.postMessage({ type: "billing-widget:close" }, parentOrigin);
  });
})();
