//! Applies the theme setting; "system" follows `prefers-color-scheme` through CSS. The choice
//! is also kept in localStorage, which `public/theme-boot.js` reads before the first paint.

import type { Settings } from "../types";

/** The localStorage key `public/theme-boot.js` reads. */
export const THEME_KEY = "porthole-theme";

/** Sets `<html data-theme>` (and its colour scheme), which the stylesheet reads, and remembers it. */
export function applyTheme(theme: Settings["theme"]): void {
  const root = document.documentElement;
  root.dataset.theme = theme;
  root.style.colorScheme = theme === "system" ? "" : theme;
  try {
    localStorage.setItem(THEME_KEY, theme);
  } catch {
    // No storage: the next launch starts from the system's scheme until the settings arrive.
  }
}
