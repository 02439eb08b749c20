// Assay console: the few live parts, in plain JavaScript (no inline scripts: the CSP forbids them).
"use strict";

// <form data-autosubmit>: submit when a select changes (the org/deployment switcher).
document.addEventListener("change", (event) => {
  const form = event.target.closest("form[data-autosubmit]");
  if (form) form.requestSubmit();
});

// <button data-confirm="..."> asks before submitting its form.
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-confirm]");
  if (button && !window.confirm(button.dataset.confirm)) event.preventDefault();
});

// <div data-poll="URL" data-poll-every="2000">: replace the element's content with the
// HTML fragment at URL every few seconds while the element says data-live="true".
function startPolling(element) {
  const every = Number(element.dataset.pollEvery || 2000);
  const tick = async () => {
    if (element.dataset.live !== "true") return;
    try {
      const response = await fetch(element.dataset.poll, {
        headers: { "X-Requested-With": "fetch" },
        credentials: "same-origin",
      });
      if (response.ok) {
        const html = await response.text();
        const holder = document.createElement("div");
        holder.innerHTML = html;
        const fresh = holder.firstElementChild;
        if (fresh) {
          element.replaceWith(fresh);
          startPolling(fresh);
          return;
        }
      }
    } catch (error) {
      console.warn("poll failed", error);
    }
    setTimeout(tick, every);
  };
  setTimeout(tick, every);
}
document.querySelectorAll("[data-poll]").forEach(startPolling);
