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

  // Enrolling: the code an admin issued names the person; they read the notice, agree, and the
  // camera takes up to three photos a moment apart, sent together.
  const panel = $("enroll-panel");
  let code = "";
  let photos = 3;
  const closeEnroll = () => { panel.hidden = true; $("enroll").hidden = false; $("notice-step").hidden = true;
    $("code-form").hidden = false;
    $("code").value = ""; $("agree").checked = false; $("take").disabled = true; enable(true); };
  $("enroll").addEventListener("click", () => {
    panel.hidden = false; $("enroll").hidden = true; enable(false); $("code").focus();
  });
  $("enroll-cancel").addEventListener("click", () => { closeEnroll(); say("Look at the camera, then tap."); });
  $("agree").addEventListener("change", () => { $("take").disabled = !$("agree").checked; });
  $("code-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const r = await fetch("/kiosk/enroll/code", {
        method: "POST", credentials: "same-origin", body: JSON.stringify({ code: $("code").value }),
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      });
      const body = await r.json();
      if (!r.ok) { say(body.error ? body.error.message : "That did not work. Please try again.", "bad"); return; }
      code = $("code").value;
      photos = body.photos;
      $("hello").textContent = "Hello " + body.first_name + ". Please read this first:";
      const notice = $("notice");
      notice.replaceChildren();
      for (const item of body.notice) {
        const dt = document.createElement("dt"); dt.textContent = item.title;
        const dd = document.createElement("dd"); dd.textContent = item.text;
        notice.append(dt, dd);
      }
      $("choice").textContent = body.choice;
      $("agreement").textContent = body.agreement;
      $("code-form").hidden = true;
      $("notice-step").hidden = false;
      say("Tick the box to agree, then look at the camera.");
    } catch (err) {
      say("The connection failed. Please try again.", "bad");
    }
  });
  $("take").addEventListener("click", async () => {
    $("take").disabled = true;
    const form = new FormData();
    form.append("code", code);
    form.append("agree", "true");
    try {
      for (let n = 1; n <= photos; n++) {
        say("Photo " + n + " of " + photos + ": look at the camera…");
        await new Promise((done) => setTimeout(done, 800));  // a moment between photos, for the person
        form.append("photo", await snap(), "photo-" + n + ".jpg");
      }
      say("Checking your photos…");
      const r = await fetch("/kiosk/enroll", {
        method: "POST", credentials: "same-origin", body: form, headers: { "X-CSRF-Token": csrf },
      });
      const body = await r.json();
      document.body.dataset.lastEnroll = r.ok && body.ok ? "enrolled" : "refused";
      say(r.ok ? body.message : (body.error ? body.error.message : "That did not work. Please try again."),
        r.ok && body.ok ? "good" : "bad");
      if (r.ok && body.ok) closeEnroll(); else $("take").disabled = !$("agree").checked;
    } catch (err) {
      say("The connection failed. Please try again.", "bad");
      $("take").disabled = false;
    }
  });

  $("go").addEventListener("click", () => send("auto"));
  $("go-in").addEventListener("click", () => send("in"));
  $("go-out").addEventListener("click", () => send("out"));
  document.addEventListener("DOMContentLoaded", start);
  if (document.readyState !== "loading") start();
})();
