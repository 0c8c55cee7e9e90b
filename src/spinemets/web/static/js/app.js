// Progressive enhancement: every control also works as a plain form without JavaScript.
import { initAll } from "/static/vendor/nhsuk-frontend/nhsuk-frontend.min.js";

document.body.classList.add("js-enabled", "nhsuk-frontend-supported");
initAll();

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

// Read aloud with the Web Speech API; a clear message where the browser has no speech.
const readButton = document.querySelector("[data-sm-read]");
const status = document.querySelector("[data-sm-status]");
if (readButton && status) {
  readButton.hidden = false;
  let speaking = false;
  readButton.addEventListener("click", () => {
    const synth = window.speechSynthesis;
    if (!synth || typeof window.SpeechSynthesisUtterance !== "function") {
      status.textContent = status.dataset.smNoSpeech;
      return;
    }
    if (speaking) {
      synth.cancel();
      speaking = false;
      readButton.setAttribute("aria-pressed", "false");
      status.textContent = status.dataset.smStopped;
      return;
    }
    const main = document.getElementById("maincontent");
    const utterance = new SpeechSynthesisUtterance(main ? main.innerText : document.body.innerText);
    utterance.lang = document.documentElement.lang || "en";
    utterance.onend = () => { speaking = false; readButton.setAttribute("aria-pressed", "false"); };
    utterance.onerror = utterance.onend;
    synth.cancel();
    synth.speak(utterance);
    speaking = true;
    readButton.setAttribute("aria-pressed", "true");
    status.textContent = status.dataset.smReading;
  });
}
