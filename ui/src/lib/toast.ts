//! In-app notices ("Copied 127.0.0.1:6379"): a tiny store the `Toasts` component renders.

/** One notice. */
export interface Toast {
  id: number;
  text: string;
  kind: "info" | "error";
}

type Listener = (toasts: Toast[]) => void;

let toasts: Toast[] = [];
let next = 1;
const listeners = new Set<Listener>();

function publish() {
  for (const l of listeners) l(toasts);
}

/** Shows a notice for a few seconds (errors stay longer). */
export function toast(text: string, kind: Toast["kind"] = "info"): void {
  const t = { id: next++, text, kind };
  toasts = [...toasts.slice(-2), t];
  publish();
  setTimeout(() => dismiss(t.id), kind === "error" ? 8000 : 3000);
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
