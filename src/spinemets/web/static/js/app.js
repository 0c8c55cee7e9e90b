// Progressive enhancement: every control also works as a plain form without JavaScript.
import { ErrorSummary, initAll, isInitialised } from "/static/vendor/nhsuk-frontend/nhsuk-frontend.min.js";

document.body.classList.add("js-enabled", "nhsuk-frontend-supported");
initAll();

// After a failed submission the error summary takes focus, through the design system's own
// module. initAll() does it for markup with data-module="nhsuk-error-summary"; this covers
// summaries without that attribute (ErrorSummary refuses to initialise an element twice).
const errorSummary = document.querySelector(".nhsuk-error-summary");
if (errorSummary instanceof HTMLElement && !isInitialised(errorSummary, ErrorSummary.moduleName)) {
  try {
    new ErrorSummary(errorSummary);
  } catch (error) {
    console.warn(error); // the page still works; the tools below must still load
  }
}

const COOKIE = "sm_prefs";
const CHOICES = { size: ["standard", "large", "larger"], contrast: ["standard", "high"],
  font: ["standard", "dyslexic"], motion: ["standard", "reduce"] };

function readPrefs() {
  const prefs = { size: "standard", contrast: "standard", font: "standard", motion: "standard" };
  const match = document.cookie.split("; ").find((c) => c.startsWith(COOKIE + "="));
  if (match) {
    for (const part of match.slice(COOKIE.length + 1).split("-")) {
      const [name, value] = part.split(".");
      if (CHOICES[name] && CHOICES[name].includes(value)) prefs[name] = value;
    }
  }
  return prefs;
}

function applyPrefs(prefs) {
  const root = document.documentElement;
  for (const name of Object.keys(CHOICES)) {
    for (const value of CHOICES[name]) root.classList.remove(`sm-${name}-${value}`);
    if (prefs[name] !== "standard") root.classList.add(`sm-${name}-${prefs[name]}`);
  }
  const value = Object.keys(CHOICES).map((n) => `${n}.${prefs[n]}`).join("-");
  const secure = location.protocol === "https:" ? "; secure" : "";
  document.cookie = `${COOKIE}=${value}; path=/; max-age=31536000; samesite=lax${secure}`;
  for (const button of document.querySelectorAll("[data-sm-pref]")) {
    const name = button.dataset.smPref;
    const on = button.dataset.smOn ? prefs[name] === button.dataset.smOn : prefs[name] === button.value;
    button.setAttribute("aria-pressed", on ? "true" : "false");
  }
}

const form = document.querySelector("[data-sm-prefs]");
if (form) {
  form.addEventListener("click", (event) => {
    const button = event.target.closest("button");
    if (!button || !form.contains(button)) return;
    if (button.hasAttribute("data-sm-read")) return;
    event.preventDefault();
    let prefs = readPrefs();
    if (button.hasAttribute("data-sm-reset")) {
      prefs = { size: "standard", contrast: "standard", font: "standard", motion: "standard" };
    } else if (button.name === "toggle") {
      const name = button.value;
      prefs[name] = prefs[name] === CHOICES[name][1] ? CHOICES[name][0] : CHOICES[name][1];
    } else if (button.dataset.smPref) {
      prefs[button.dataset.smPref] = button.value;
    }
    applyPrefs(prefs);
  });
}

// Read aloud with the Web Speech API, one section (heading) of <main> at a time, in a voice for
// the page language. A clear message where the browser cannot speak or has no such voice
// (usual on Linux). Voices load asynchronously: wait briefly for "voiceschanged".
const VOICE_WAIT_MS = 1000;

function pageLang() {
  return (document.documentElement.lang || "en").toLowerCase();
}

function voiceFor(voices, lang) {
  const base = lang.split("-")[0];
  const matches = voices.filter((v) => (v.lang || "").toLowerCase().replace("_", "-").split("-")[0] === base);
  return matches.find((v) => v.lang.toLowerCase().replace("_", "-") === lang)
    || matches.find((v) => v.default) || matches[0] || null;
}

// Resolves with the voice list, once the browser has one or after a short wait (then maybe []).
function loadVoices(synth) {
  const now = typeof synth.getVoices === "function" ? synth.getVoices() : [];
  if (now.length || typeof synth.addEventListener !== "function") return Promise.resolve(now);
  return new Promise((resolve) => {
    const done = () => {
      synth.removeEventListener("voiceschanged", done);
      clearTimeout(timer);
      resolve(synth.getVoices());
    };
    const timer = setTimeout(done, VOICE_WAIT_MS);
    synth.addEventListener("voiceschanged", done);
  });
}

function isHeading(node) {
  return /^H[1-6]$/.test(node.tagName) && node.getBoundingClientRect().height > 1;
}

// The text of <main> split before each visible heading; visually hidden headings (structure for
// screen readers, like "Contents") do not start a section of their own.
function sections(root) {
  const out = [];
  let parts = [];
  const flush = () => {
    const text = parts.join("\n").replace(/\n{3,}/g, "\n\n").trim();
    if (text) out.push(text);
    parts = [];
  };
  const visit = (parent) => {
    for (const node of parent.childNodes) {
      if (node.nodeType === Node.TEXT_NODE) {
        if (node.textContent.trim()) parts.push(node.textContent.trim());
      } else if (node.nodeType === Node.ELEMENT_NODE && node.getClientRects().length) {
        if (isHeading(node)) {
          flush();
          parts.push(node.innerText);
        } else if ([...node.querySelectorAll("h1, h2, h3, h4, h5, h6")].some(isHeading)) {
          visit(node);
        } else {
          parts.push(node.innerText);
        }
      }
    }
  };
  visit(root);
  flush();
  return out;
}

const readButton = document.querySelector("[data-sm-read]");
const status = document.querySelector("[data-sm-status]");
if (readButton && status) {
  readButton.hidden = false;
  let reading = 0; // increases on every start and stop, so late callbacks of an old reading are ignored

  const setReading = (on, message) => {
    readButton.setAttribute("aria-pressed", on ? "true" : "false");
    if (message !== undefined) status.textContent = message;
  };

  const stop = (synth, message) => {
    reading += 1;
    synth.cancel();
    setReading(false, message);
  };

  const start = (synth, voice) => {
    const main = document.getElementById("maincontent") || document.body;
    const lang = pageLang();
    const texts = sections(main);
    const run = ++reading;
    synth.cancel();
    texts.forEach((text, index) => {
      const utterance = new SpeechSynthesisUtterance(text);
      utterance.lang = lang;
      if (voice) utterance.voice = voice;
      if (index === texts.length - 1) {
        utterance.onend = () => { if (run === reading) setReading(false, ""); };
      }
      utterance.onerror = (event) => {
        if (run !== reading || event.error === "interrupted" || event.error === "canceled") return;
        const noVoice = event.error === "language-unavailable" || event.error === "voice-unavailable";
        stop(synth, noVoice ? status.dataset.smNoVoice : status.dataset.smNoSpeech);
      };
      synth.speak(utterance);
    });
    setReading(true, status.dataset.smReading);
    return run;
  };

  readButton.addEventListener("click", () => {
    const synth = window.speechSynthesis;
    if (!synth || typeof window.SpeechSynthesisUtterance !== "function") {
      status.textContent = status.dataset.smNoSpeech;
      return;
    }
    if (readButton.getAttribute("aria-pressed") === "true") {
      stop(synth, status.dataset.smStopped);
      return;
    }
    const lang = pageLang();
    const known = typeof synth.getVoices === "function" ? synth.getVoices() : [];
    if (known.length) {
      const voice = voiceFor(known, lang);
      if (voice) start(synth, voice);
      else status.textContent = status.dataset.smNoVoice;
      return;
    }
    // Voices not loaded yet: start at once (the browser may still speak), then check.
    const run = start(synth, null);
    loadVoices(synth).then((voices) => {
      if (run === reading && !voiceFor(voices, lang)) stop(synth, status.dataset.smNoVoice);
    });
  });
}

// Symptom-checker result: the answers live in cookies that another tab can change. The page
// carries the revision of the answers it shows; on load (and 1.5 s and 5 s later), when the tab
// is shown again or gets focus, and when it comes back from the back/forward cache, it asks for
// the current revision
// and reloads when it changed (so a tab left open never keeps saying "No warning signs" after
// a Yes in another tab). Without JavaScript the page is simply current when loaded.
const answersRevision = document.querySelector('meta[name="sm-answers-revision"]');
if (answersRevision instanceof HTMLMetaElement) {
  let checking = false;
  const recheck = async () => {
    if (checking) return;
    checking = true;
    try {
      const response = await fetch("/check/revision", {
        cache: "no-store", credentials: "same-origin", headers: { Accept: "application/json" },
      });
      if (!response.ok) return;
      const data = await response.json();
      if (typeof data.revision === "string" && data.revision !== answersRevision.content) {
        window.location.reload();
      }
    } catch (error) {
      console.warn(error); // offline: the page stays as it is
    } finally {
      checking = false;
    }
  };
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") recheck();
  });
  window.addEventListener("focus", recheck);
  window.addEventListener("pageshow", (event) => {
    if (event.persisted) recheck();
  });
  recheck();
  // An answer sent from another tab at the same moment may land just after this page was
  // made: check again shortly after loading too.
  for (const delay of [1500, 5000]) window.setTimeout(recheck, delay);
}
