//! What a connection's status means to a person: its badge text, tone, and address.

import type { ConnectionStatus, Fix } from "../types";

/** Colour family of a status badge. */
export type Tone = "idle" | "active" | "busy" | "warn" | "error";

/** True while a listener is up (or coming up): the states that Disconnect ends. */
export function isActive(s: ConnectionStatus): boolean {
  return s.state !== "idle" && s.state !== "error";
}

/** The local address a client should use, when there is one. */
export function statusAddr(s: ConnectionStatus): string | null {
  return "addr" in s ? s.addr : null;
}

/** `1 session`, `3 sessions`. */
export function sessionCount(n: number): string {
  return `${n} ${n === 1 ? "session" : "sessions"}`;
}

/** The badge sentence: "listening on 127.0.0.1:6379", "connected · 2 sessions", … */
export function statusText(s: ConnectionStatus): string {
  switch (s.state) {
    case "idle":
      return "idle";
    case "listening":
      return `listening on ${s.addr}`;
    case "connecting":
      return "connecting…";
    case "loginRequired":
      return "login required";
    case "connected":
      return `connected · ${sessionCount(s.sessions)}`;
    case "failing":
      return s.label;
    case "error":
      return s.message;
  }
}

/** The badge colour. */
export function statusTone(s: ConnectionStatus): Tone {
  switch (s.state) {
    case "idle":
      return "idle";
    case "listening":
    case "connected":
      return "active";
    case "connecting":
      return "busy";
    case "loginRequired":
      return "warn";
    case "failing":
    case "error":
      return "error";
  }
}

/** The sentence under a failing (or failed) connection: what went wrong and what to do. */
export function statusProblem(s: ConnectionStatus): string | null {
  return s.state === "failing" || s.state === "error" ? s.message : null;
}

/** The label of a fix button, the same words the tray uses. */
export function fixLabel(fix: Fix): string {
  switch (fix) {
    case "editTls":
      return "Open TLS settings…";
    case "editProxy":
      return "Edit proxy settings…";
    case "editDestination":
      return "Edit destination…";
    case "editClientCert":
      return "Choose a client certificate…";
    case "logIn":
      return "Log in";
    case "logInAsSomeoneElse":
      return "Log in as someone else…";
    case "retry":
      return "Reconnect";
  }
}

/** The form field a fix opens the form at. */
export function fixField(fix: Fix): string | null {
  switch (fix) {
    case "editTls":
      return "caFile";
    case "editProxy":
      return "pomeriumUrl";
    case "editDestination":
      return "destination";
    case "editClientCert":
      return "certFile";
    default:
      return null;
  }
}

/** Splits `host:port` (also `[::1]:port`) into its parts. */
export function splitAddr(addr: string): { host: string; port: string } {
  const i = addr.lastIndexOf(":");
  if (i < 0) return { host: addr, port: "" };
  let host = addr.slice(0, i);
  if (host.startsWith("[") && host.endsWith("]")) host = host.slice(1, -1);
  return { host, port: addr.slice(i + 1) };
}

/** Fills an "Open with" template (`ssh -p {port} {host}`) with a listening address. */
export function openWithCommand(template: string, addr: string): string {
  const { host, port } = splitAddr(addr);
  return template.replaceAll("{host}", host).replaceAll("{port}", port).replaceAll("{addr}", addr);
}
