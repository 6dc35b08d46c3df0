// The local web chat: sends what the user types or presses to /api/chat and renders the replies.
// Everything the server sends is inserted as text (never as HTML), so nothing in a reply can inject markup.
(function () {
  "use strict";

  const STRINGS = JSON.parse(document.getElementById("ui-strings").textContent);
  const POLL_MS = 10000;
  const REPLY_TIMEOUT_MS = 30000;
  const MAX_INPUT_PX = 160;
  const log = document.getElementById("log");
  const form = document.getElementById("composer");
  const input = document.getElementById("message");
  const sendButton = document.getElementById("send");
  const status = document.getElementById("status");
  let busy = false;

  // ------------------------------------------------------------------ local storage (only the outbox cursor)
  // Who is chatting is decided by the server (an HttpOnly session cookie); the page never sends a user id.
  function storageGet(key) {
    try { return window.localStorage.getItem(key); } catch (e) { return null; }
  }
  function storageSet(key, value) {
    try { window.localStorage.setItem(key, value); } catch (e) { /* private mode: keep it in memory */ }
  }

  // The session cookie is set by the server; this makes sure there is one even when the page was
  // opened from a link on another site (the browser then holds the SameSite=Strict cookie back).
  async function ensureSession() {
    try { await fetch("/api/session", { method: "POST", cache: "no-store" }); } catch (e) { /* offline */ }
  }
  const sessionReady = ensureSession();

  // ------------------------------------------------------------------ safe rendering
  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  // **bold** and `code` inside one line, as DOM nodes.
  function appendInline(parent, line) {
    const pattern = /\*\*([^*]+?)\*\*|`([^`]+?)`/g;
    let last = 0;
    let match;
    while ((match = pattern.exec(line)) !== null) {
      if (match.index > last) parent.appendChild(document.createTextNode(line.slice(last, match.index)));
      parent.appendChild(match[1] !== undefined ? el("strong", null, match[1]) : el("code", null, match[2]));
      last = pattern.lastIndex;
    }
    if (last < line.length) parent.appendChild(document.createTextNode(line.slice(last)));
  }

  // Paragraphs on blank lines, line breaks on single newlines.
  function formattedText(text) {
    const body = el("div", "text");
    String(text).split(/\n{2,}/).forEach((paragraph) => {
      if (!paragraph.trim()) return;
      const p = el("p");
      paragraph.split("\n").forEach((line, index) => {
        if (index > 0) p.appendChild(document.createElement("br"));
        appendInline(p, line);
      });
      body.appendChild(p);
    });
    return body;
  }

  function safeUrl(url) {
    return typeof url === "string" && /^https?:\/\//i.test(url) ? url : null;
  }

  function plainText(reply) {
    const lines = [];
    if (reply.title) lines.push(reply.title, "");
    if (reply.text) lines.push(reply.text.replace(/\*\*(.+?)\*\*/g, "$1"));
    if (reply.kind !== "summary") (reply.fields || []).forEach((f) => lines.push(f.label + ": " + f.value));
    if ((reply.sources || []).length) {
      lines.push("", STRINGS.sources + ":");
      reply.sources.forEach((s) => lines.push("- " + s.title + (s.ref ? " (" + s.ref + ")" : "")));
    }
    return lines.join("\n");
  }

  function renderReply(reply) {
    const kind = String(reply.kind || "notice").replace(/[^a-z_]/g, "");
    const article = el("article", "msg bot kind-" + kind);
    article.appendChild(el("span", "visually-hidden", STRINGS.bot + ": "));
    if (reply.title) article.appendChild(el("h2", "title", reply.title));
    if (reply.text) article.appendChild(formattedText(reply.text));

    // A summary's text already holds its fields, worded to paste into a case note.
    if ((reply.fields || []).length && kind !== "summary") {
      const list = el("dl", "fields");
      reply.fields.forEach((field) => {
        list.appendChild(el("dt", null, field.label));
        const dd = el("dd");
        appendInline(dd, String(field.value));
        list.appendChild(dd);
      });
      article.appendChild(list);
    }

    if ((reply.links || []).length) {
      const nav = el("div", "links");
      const ul = el("ul");
      reply.links.forEach((link) => {
        const url = safeUrl(link.url);
        const li = el("li");
        if (url) {
          const a = el("a", null, link.title);
          a.href = url;
          a.rel = "noopener noreferrer";
          a.target = "_blank";
          li.appendChild(a);
        } else {
          li.textContent = link.title;
        }
        ul.appendChild(li);
      });
      nav.appendChild(el("p", "small-heading", STRINGS.links));
      nav.appendChild(ul);
      article.appendChild(nav);
    }

    if ((reply.sources || []).length) {
      const box = el("div", "sources");
      box.appendChild(el("p", "small-heading", STRINGS.sources));
      const ul = el("ul");
      reply.sources.forEach((source) => {
        const li = el("li", null, source.title);
        if (source.ref) li.appendChild(el("span", "ref", " (" + source.ref + ")"));
        ul.appendChild(li);
      });
      box.appendChild(ul);
      article.appendChild(box);
    }

    if ((reply.choices || []).length) {
      const group = el("div", "choices");
      group.setAttribute("role", "group");
      reply.choices.forEach((choice) => {
        const button = el("button", "choice", choice.label);
        button.type = "button";
        button.addEventListener("click", () => pressChoice(article, button, choice));
        group.appendChild(button);
      });
      article.appendChild(group);
    }

    // Back, Why, Cancel: secondary buttons after the choices; pressing one sends the word a user can type.
    if ((reply.actions || []).length) {
      const group = el("div", "choices actions");
      group.setAttribute("role", "group");
      group.setAttribute("aria-label", STRINGS.actions);
      reply.actions.forEach((action) => {
        const button = el("button", "choice secondary", action.label);
        button.type = "button";
        button.addEventListener("click", () => pressChoice(article, button, action));
        group.appendChild(button);
      });
      article.appendChild(group);
    }

    if (reply.summary || kind === "summary") {
      const copy = el("button", "copy", STRINGS.copy);
      copy.type = "button";
      copy.addEventListener("click", () => copyText(plainText(reply)));
      article.appendChild(copy);
    }
    return article;
  }

  // Show the newest messages without hiding the start of a long reply above the top of the screen.
  function scrollToShow(first) {
    const bottom = document.documentElement.scrollHeight - window.innerHeight;
    const firstTop = first.getBoundingClientRect().top + window.scrollY - 12;
    window.scrollTo({ top: Math.max(0, Math.min(firstTop, bottom)), behavior: reducedMotion() ? "auto" : "smooth" });
  }

  function reducedMotion() {
    return window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  }

  function addToLog(node) {
    log.appendChild(node);
    scrollToShow(node);
  }

  function addUserMessage(text) {
    const bubble = el("div", "msg user");
    bubble.appendChild(el("span", "visually-hidden", STRINGS.you + ": "));
    bubble.appendChild(formattedText(text));
    addToLog(bubble);
  }

  function addReplies(replies) {
    const nodes = (replies || []).map(renderReply);
    nodes.forEach((node) => log.appendChild(node));
    if (nodes.length) scrollToShow(nodes[0]);
  }

  function addNotice(text) {
    addToLog(el("p", "msg bot kind-error", text));
  }

  // ------------------------------------------------------------------ talking to the server
  function setBusy(value) {
    busy = value;
    // aria-disabled rather than disabled, so a keyboard user on the button keeps their focus.
    sendButton.setAttribute("aria-disabled", value ? "true" : "false");
    log.setAttribute("aria-busy", value ? "true" : "false");
    let typing = document.getElementById("typing");
    if (value && !typing) {
      typing = el("p", "typing", STRINGS.thinking);
      typing.id = "typing";
      log.appendChild(typing);
    } else if (!value && typing) {
      typing.remove();
    }
  }

  async function send(payload, echo) {
    if (busy) return;
    addUserMessage(echo);
    setBusy(true);
    const body = Object.assign({ message_id: newMessageId() }, payload);
    const timeout = new AbortController();
    const timer = window.setTimeout(() => timeout.abort(), REPLY_TIMEOUT_MS);
    try {
      await sessionReady;
      const response = await fetch("/api/chat", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
        signal: timeout.signal,
      });
      let data = null;
      try { data = await response.json(); } catch (e) { data = null; }
      setBusy(false);
      if (!response.ok || !data || !Array.isArray(data.replies)) {
        const reason = data && data.error ? data.error : response.status + " " + response.statusText;
        addNotice(STRINGS.bad_reply.replace("{error}", reason));
        return;
      }
      addReplies(data.replies);
    } catch (e) {
      setBusy(false);
      addNotice(STRINGS.offline);
    } finally {
      window.clearTimeout(timer);
    }
  }

  function newMessageId() {
    const bytes = new Uint8Array(8);
    window.crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  // ``scope``: the buttons that stop meaning anything once one is pressed (a step's choices and actions).
  function pressChoice(scope, button, choice) {
    if (busy) return;
    scope.querySelectorAll("button.choice").forEach((b) => { b.disabled = true; });
    button.classList.add("chosen");
    button.setAttribute("aria-pressed", "true");
    input.focus();
    send({ choice: choice.value }, choice.label);
  }

  function submitText() {
    const text = input.value.trim();
    if (!text || busy) return;
    input.value = "";
    autosize();
    input.focus();
    send({ text: text }, text);
  }

  async function copyText(text) {
    try {
      await navigator.clipboard.writeText(text);
      announce(STRINGS.copied);
    } catch (e) {
      const area = el("textarea", "visually-hidden");
      area.value = text;
      document.body.appendChild(area);
      area.select();
      let ok = false;
      try { ok = document.execCommand("copy"); } catch (err) { ok = false; }
      area.remove();
      announce(ok ? STRINGS.copied : STRINGS.copy_failed);
    }
  }

  function announce(text) {
    status.textContent = "";
    window.setTimeout(() => { status.textContent = text; }, 50);
  }

  // Proactive messages (reminders, notices) arrive in the outbox; poll it gently.
  let outboxCursor = storageGet("infoshare.outbox");
  async function pollOutbox() {
    const params = new URLSearchParams();
    if (outboxCursor !== null) params.set("after", outboxCursor);
    try {
      const response = await fetch("/api/outbox?" + params.toString(), { cache: "no-store" });
      if (!response.ok) return;
      const data = await response.json();
      if (Array.isArray(data.replies) && data.replies.length) {
        addReplies(data.replies);
        announce(STRINGS.new_messages);
      }
      if (typeof data.last_id === "number") {
        outboxCursor = String(data.last_id);
        storageSet("infoshare.outbox", outboxCursor);
      }
    } catch (e) { /* the server is away; try again next time */ }
  }

  // ------------------------------------------------------------------ wiring
  // The box grows with its text; its borders count too (box-sizing: border-box), or one line overflows by 1 px.
  function autosize() {
    input.style.height = "auto";
    const borders = input.offsetHeight - input.clientHeight;
    const wanted = input.scrollHeight + borders;
    input.style.height = Math.min(wanted, MAX_INPUT_PX) + "px";
    input.style.overflowY = wanted > MAX_INPUT_PX ? "auto" : "hidden";
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    submitText();
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      submitText();
    }
  });
  input.addEventListener("input", autosize);
  document.querySelectorAll("button.example").forEach((button) => {
    button.addEventListener("click", () => {
      input.focus();
      send({ text: button.dataset.text }, button.dataset.text);
    });
  });

  document.querySelectorAll("button.start").forEach((button) => {
    button.addEventListener("click", () => {
      input.focus();
      send({ choice: button.dataset.choice }, button.textContent);
    });
  });

  // A reload mid-walkthrough: show the step the user was on, so typing carries on where they were.
  async function showPending() {
    try {
      const response = await fetch("/api/resume", { method: "POST", cache: "no-store" });
      if (!response.ok) return;
      const data = await response.json();
      if (Array.isArray(data.replies) && data.replies.length) addReplies(data.replies);
    } catch (e) { /* offline: the first message will say so */ }
  }

  sessionReady.then(showPending).then(pollOutbox);
  window.setInterval(pollOutbox, POLL_MS);
  input.focus();
})();
