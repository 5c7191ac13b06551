//! Applies the theme setting; "system" follows `prefers-color-scheme` through CSS.

import type { Settings } from "../types";

/** Sets `<html data-theme>`, which the stylesheet reads. */
export function applyTheme(theme: Settings["theme"]): void {
  document.documentElement.dataset.theme = theme;
}
