// The kiosk: camera preview, one tap to send a frame, then the result in large friendly words.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const csrf = document.querySelector('meta[name="csrf"]').content;
  const result = $("result");
  const buttons = [$("go"), $("go-in"), $("go-out")];
  const say = (text, kind) => { result.textContent = text; result.className = "result " + (kind || ""); };
  const enable = (on) => buttons.forEach((b) => { b.disabled = !on; });

  const key = () => {
    const bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  };

  async function start() {
    try {
      const stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "user", width: 640 } });
      $("preview").srcObject = stream;
      await $("preview").play();
      while ($("preview").videoWidth === 0) await new Promise((done) => setTimeout(done, 50));
      say("Look at the camera, then tap.");
      enable(true);
    } catch (err) {
      say("The camera is not available. Allow it in the browser, or check in from chat.", "bad");
    }
  }

  async function snap() {
    const video = $("preview");
    const canvas = $("frame");
    canvas.width = video.videoWidth;
    canvas.height = video.videoHeight;
    canvas.getContext("2d").drawImage(video, 0, 0);
    return new Promise((resolve, reject) => canvas.toBlob(
      (blob) => (blob ? resolve(blob) : reject(new Error("no frame"))), "image/jpeg", 0.9));
  }

  async function send(direction) {
    enable(false);
    say("One moment…");
    try {
      const photo = await snap();
      const idem = key();
      let response;
      for (let attempt = 0; attempt < 3; attempt++) {  // the same key: a retry is never a second check-in
        try {
          response = await fetch("/kiosk/check-ins?direction=" + direction, {
            method: "POST", body: photo, credentials: "same-origin",
            headers: { "Content-Type": "image/jpeg", "X-CSRF-Token": csrf, "Idempotency-Key": idem },
          });
          break;
        } catch (err) { if (attempt === 2) throw err; }
      }
      const body = await response.json();
      if (!response.ok) { say(body.error ? body.error.message : "That did not work. Please try again.", "bad"); return; }
      const deadline = Date.now() + 20000;
      while (Date.now() < deadline) {
        const r = await fetch("/kiosk/check-ins/" + body.job_id, { credentials: "same-origin" });
        const outcome = await r.json();
        if (outcome.state === "done") {
          say(outcome.message, outcome.ok ? "good" : "bad");
          document.body.dataset.lastResult = outcome.result;
          return;
        }
        await new Promise((done) => setTimeout(done, 300));
      }
      say("This is taking too long. Please try again, or check in from chat.", "bad");
    } catch (err) {
      say("The connection failed. Please try again, or check in from chat.", "bad");
    } finally {
      setTimeout(() => enable(true), 1500);
    }
  }

  $("go").addEventListener("click", () => send("auto"));
  $("go-in").addEventListener("click", () => send("in"));
  $("go-out").addEventListener("click", () => send("out"));
  document.addEventListener("DOMContentLoaded", start);
  if (document.readyState !== "loading") start();
})();
