//! In-app notices ("Copied 127.0.0.1:6379"): a tiny store the `Toasts` component renders.

import { sentence } from "./format";

/** A button on a notice ("Copy address"). */
export interface ToastAction {
  label: string;
  run: () => void;
}

/** One notice. */
export interface Toast {
  id: number;
  text: string;
  kind: "info" | "error";
  /** Shown after the text, in monospace (an address to copy). */
  detail?: string;
  action?: ToastAction;
}

type Listener = (toasts: Toast[]) => void;

let toasts: Toast[] = [];
let next = 1;
const listeners = new Set<Listener>();

function publish() {
  for (const l of listeners) l(toasts);
}

/**
 * Shows a notice for a few seconds (errors stay longer, those with a button longer still).
 * Error texts are made sentences without OS jargon ([`sentence`]).
 */
export function toast(
  text: string,
  kind: Toast["kind"] = "info",
  extra: { detail?: string; action?: ToastAction } = {},
): void {
  const t: Toast = { id: next++, text: kind === "error" ? sentence(text) : text, kind, ...extra };
  toasts = [...toasts.slice(-2), t];
  publish();
  setTimeout(() => dismiss(t.id), extra.action ? 30000 : kind === "error" ? 8000 : 3000);
}

/** Removes a notice. */
export function dismiss(id: number): void {
  toasts = toasts.filter((t) => t.id !== id);
  publish();
}

/** Follows the notices; returns the unsubscribe function. */
export function subscribe(l: Listener): () => void {
  listeners.add(l);
  l(toasts);
  return () => listeners.delete(l);
}
