// Porthole: applies the last theme before the first paint (no light flash in dark mode). The
// settings live in Rust and arrive asynchronously; lib/theme.ts keeps this copy of the choice
// in localStorage so this synchronous, render-blocking script can read it.
(function () {
  try {
    var t = localStorage.getItem("porthole-theme");
    if (t === "light" || t === "dark" || t === "system") {
      document.documentElement.dataset.theme = t;
      if (t !== "system") document.documentElement.style.colorScheme = t;
    }
  } catch (e) {
    // No storage (private mode): the stylesheet follows the system until the settings arrive.
  }
})();
