// The today board refreshes itself without reloading the page.
"use strict";
document.addEventListener("DOMContentLoaded", async () => {
  const charts = document.querySelector("[data-load]");
  if (charts) {
    try {
      const response = await fetch(charts.dataset.load, { credentials: "same-origin" });
      if (response.ok) charts.innerHTML = await response.text();
    } finally {
      charts.setAttribute("aria-busy", "false");
    }
  }
});
document.addEventListener("DOMContentLoaded", () => {
  const board = document.querySelector("[data-refresh]");
  if (!board) return;
  const every = Number(board.dataset.every || "30") * 1000;
  const refresh = async () => {
    try {
      const response = await fetch(board.dataset.refresh, { credentials: "same-origin" });
      if (response.ok) {
        board.innerHTML = await response.text();
        board.dataset.refreshed = String(Number(board.dataset.refreshed || "0") + 1);
      }
    } catch (err) {
      // offline for a moment: the next refresh tries again
    }
  };
  setInterval(refresh, every);
  board.refreshNow = refresh;
});
