//! Hash navigation with a leave guard, so a form with unsaved changes can ask first.

import { useEffect, useState } from "preact/hooks";
import { parseRoute, routeHash, type Route } from "./lib/routes";

/** Asked before leaving the page; return true to hold the move and call `proceed` later. */
export type LeaveGuard = (proceed: () => void) => boolean;

let guard: LeaveGuard | null = null;
let current = location.hash || "#/";
const listeners = new Set<(hash: string) => void>();

function go(hash: string) {
  guard = null;
  current = hash;
  if (location.hash !== hash) location.hash = hash;
  for (const l of listeners) l(hash);
}

/** Moves to a route (asking the leave guard first). */
export function navigate(to: Route | string): void {
  const hash = typeof to === "string" ? to : routeHash(to);
  if (hash === current) return;
  if (guard && guard(() => go(hash))) return;
  go(hash);
}

/** Installs the guard of the current page; `null` removes it. */
export function setLeaveGuard(g: LeaveGuard | null): void {
  guard = g;
}

window.addEventListener("hashchange", () => {
  const hash = location.hash || "#/";
  if (hash === current) return;
  if (guard) {
    // Links and the browser's Back: put the old hash back until the guard says yes.
    history.replaceState(null, "", current);
    if (guard(() => go(hash))) return;
  }
  go(hash);
});

/** The current route; re-renders on every move. */
export function useRoute(): Route {
  const [hash, setHash] = useState(current);
  useEffect(() => {
    listeners.add(setHash);
    return () => void listeners.delete(setHash);
  }, []);
  return parseRoute(hash);
}
