// The owner's upload page: sends each chosen file in chunks, continues where the server stopped
// when the connection breaks (also after a reload: the upload id is kept in localStorage), and
// shows each file's progress and what became of it.
"use strict";
(function () {
  const section = document.getElementById("send");
  const picker = document.getElementById("files");
  const list = document.getElementById("list");
  const done = document.getElementById("done");
  const token = section.dataset.token;
  const chunkSize = Number(section.dataset.chunk);
  const base = "/upload/" + encodeURIComponent(token) + "/files";
  const RETRIES = 8;
  let running = 0;

  function row(file) {
    const item = document.createElement("li");
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = file.name;
    const bar = document.createElement("progress");
    bar.max = file.size;
    bar.value = 0;
    const state = document.createElement("span");
    state.className = "state";
    state.setAttribute("role", "status");
    state.textContent = "waiting";
    item.append(name, bar, state);
    list.append(item);
    return { item, bar, state };
  }

  function request(method, url, body, headers, onProgress) {
    return new Promise(function (resolve, reject) {
      const xhr = new XMLHttpRequest();
      xhr.open(method, url);
      for (const [key, value] of Object.entries(headers || {})) xhr.setRequestHeader(key, value);
      if (onProgress) xhr.upload.onprogress = function (e) { onProgress(e.loaded); };
      xhr.onload = function () {
        let answer = {};
        try { answer = JSON.parse(xhr.responseText || "{}"); } catch (e) { answer = {}; }
        resolve({ status: xhr.status, body: answer });
      };
      xhr.onerror = function () { reject(new Error("the connection broke")); };
      xhr.ontimeout = xhr.onerror;
      xhr.send(body);
    });
  }

  function pause(ms) { return new Promise(function (resolve) { setTimeout(resolve, ms); }); }

  async function start(file, key) {
    const known = localStorage.getItem(key);
    if (known) {
      const answer = await request("GET", base + "/" + known);
      if (answer.status === 200) return { id: known, received: answer.body.received };
      localStorage.removeItem(key);
    }
    const answer = await request(
      "POST", base, JSON.stringify({ name: file.name, size: file.size }),
      { "Content-Type": "application/json" });
    if (answer.status !== 201) throw new Error(answer.body.detail || "not sent: the server refused it");
    localStorage.setItem(key, answer.body.upload_id);
    return { id: answer.body.upload_id, received: 0 };
  }

  async function send(file, shown) {
    const key = "beacon-upload:" + token + ":" + file.name + ":" + file.size + ":" + file.lastModified;
    let upload = await start(file, key);
    let failures = 0;
    while (true) {
      const first = upload.received;
      const last = Math.min(first + chunkSize, file.size) - 1;
      shown.state.textContent = "sending " + Math.floor((100 * first) / file.size) + "%";
      let answer;
      try {
        answer = await request(
          "PUT", base + "/" + upload.id, file.slice(first, last + 1),
          { "Content-Range": "bytes " + first + "-" + last + "/" + file.size },
          function (loaded) { shown.bar.value = first + loaded; });
      } catch (broken) {
        answer = null;
      }
      if (answer && answer.status === 200 && answer.body.complete) {
        localStorage.removeItem(key);
        shown.bar.value = file.size;
        shown.item.className = "kept";
        shown.state.textContent = "received (SHA-256 " + answer.body.sha256 + ")";
        return true;
      }
      if (answer && answer.status === 200) {
        upload.received = answer.body.received;
        failures = 0;
        continue;
      }
      if (answer && answer.status !== 409 && answer.status < 500) {
        localStorage.removeItem(key);
        throw new Error(answer.body.detail || "not sent: the server refused it");
      }
      failures += 1;
      if (failures > RETRIES) {
        throw new Error("not sent: the connection keeps breaking; choose the file again later");
      }
      shown.state.textContent = "connection lost, continuing…";
      await pause(Math.min(30000, 500 * 2 ** failures));
      try {
        const where = await request("GET", base + "/" + upload.id);
        if (where.status === 200) upload.received = where.body.received;
        else if (where.status === 404) upload = await start(file, key);
      } catch (stillBroken) {
        // the next round waits longer and asks again
      }
    }
  }

  picker.addEventListener("change", async function () {
    const files = Array.from(picker.files);
    picker.value = "";
    const rows = files.map(row);
    running += files.length;
    done.disabled = true;
    for (let i = 0; i < files.length; i += 1) {
      try {
        await send(files[i], rows[i]);
      } catch (refused) {
        rows[i].item.className = "refused";
        rows[i].state.textContent = refused.message;
      }
      running -= 1;
    }
    done.disabled = running > 0 || list.querySelector(".kept") === null;
  });
})();
