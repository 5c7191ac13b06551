//! The connection form's state: from a profile, to a draft, and the server's field errors.
//!
//! Validation itself is Rust's (`save_connection` rejects with `fields`, `check_connection`
//! answers the same while typing); this file converts between the form's strings and the
//! contract's types, and finds the first problem to focus.

import type { FieldError, Profile, ProfileDraft, Protocol } from "../types";
import { sentence } from "./format";

/** How the client certificate is chosen. */
export type CertMode = "none" | "files" | "store";

/** Everything the form edits, as the inputs hold it (strings, never null). */
export interface FormState {
  id: string | null;
  name: string;
  destination: string;
  listenAddr: string;
  pomeriumUrl: string;
  protocol: Protocol;
  tags: string[];
  caFile: string;
  disableTlsVerification: boolean;
  certMode: CertMode;
  certFile: string;
  keyFile: string;
  /** The saved profile already has a key in the keychain. */
  hasKey: boolean;
  issuer: string;
  subject: string;
  autostart: boolean;
  openWith: string;
}

/** The form for a new connection. */
export function emptyForm(): FormState {
  return {
    id: null,
    name: "",
    destination: "",
    listenAddr: "",
    pomeriumUrl: "",
    protocol: "tcp",
    tags: [],
    caFile: "",
    disableTlsVerification: false,
    certMode: "none",
    certFile: "",
    keyFile: "",
    hasKey: false,
    issuer: "",
    subject: "",
    autostart: false,
    openWith: "",
  };
}

/** The form filled from a saved profile. */
export function formFromProfile(p: Profile): FormState {
  const f = emptyForm();
  const c = p.clientCert;
  return {
    ...f,
    id: p.id,
    name: p.name,
    destination: p.destination,
    listenAddr: p.listenAddr ?? "",
    pomeriumUrl: p.pomeriumUrl ?? "",
    protocol: p.protocol,
    tags: [...p.tags],
    caFile: p.caFile ?? "",
    disableTlsVerification: p.disableTlsVerification,
    certMode: c ? c.kind : "none",
    certFile: c?.kind === "files" ? c.certFile : "",
    hasKey: c?.kind === "files" ? c.hasKey : false,
    issuer: c?.kind === "store" ? (c.issuer ?? "") : "",
    subject: c?.kind === "store" ? (c.subject ?? "") : "",
    autostart: p.autostart,
    openWith: p.openWith ?? "",
  };
}

const opt = (s: string): string | null => (s.trim() === "" ? null : s.trim());

/** The draft `save_connection` takes. Blank optional fields become `null`. */
export function draftFromForm(f: FormState): ProfileDraft {
  let clientCert: ProfileDraft["clientCert"] = null;
  if (f.certMode === "files") {
    clientCert = { kind: "files", certFile: f.certFile.trim(), keyFile: opt(f.keyFile) };
  } else if (f.certMode === "store") {
    clientCert = { kind: "store", issuer: opt(f.issuer), subject: opt(f.subject) };
  }
  return {
    id: f.id,
    name: f.name.trim(),
    destination: f.destination.trim(),
    listenAddr: opt(f.listenAddr),
    pomeriumUrl: opt(f.pomeriumUrl),
    protocol: f.protocol,
    tags: [...f.tags],
    caFile: opt(f.caFile),
    disableTlsVerification: f.disableTlsVerification,
    clientCert,
    autostart: f.autostart,
    openWith: opt(f.openWith),
  };
}

/** True when saving would change something. */
export function isDirty(initial: FormState, current: FormState): boolean {
  return JSON.stringify(draftFromForm(initial)) !== JSON.stringify(draftFromForm(current)) ||
    current.keyFile.trim() !== initial.keyFile.trim();
}

/** A tag as stored: trimmed, inner whitespace collapsed. */
export function normalizeTag(raw: string): string {
  return raw.trim().replace(/\s+/g, " ");
}

/** Adds a tag unless it is blank or already there (tags are case-sensitive). */
export function addTag(tags: string[], raw: string): string[] {
  const t = normalizeTag(raw);
  return t === "" || tags.includes(t) ? tags : [...tags, t];
}

/** Adds every comma-separated tag of `raw` ("staging, cache" is two tags). */
export function addTags(tags: string[], raw: string): string[] {
  return raw.split(",").reduce(addTag, tags);
}

/**
 * What typing into the tag box does: each comma ends a tag, so everything before the last
 * comma becomes tags and the rest stays in the box.
 */
export function typeTags(tags: string[], text: string): { tags: string[]; text: string } {
  const cut = text.lastIndexOf(",");
  if (cut < 0) return { tags, text };
  return { tags: addTags(tags, text.slice(0, cut)), text: text.slice(cut + 1).trimStart() };
}

/** The form's inputs that can carry an error message. */
export const FORM_FIELDS = [
  "name",
  "destination",
  "listenAddr",
  "pomeriumUrl",
  "protocol",
  "tags",
  "caFile",
  "disableTlsVerification",
  "clientCert",
  "clientCert.certFile",
  "clientCert.keyFile",
  "clientCert.issuer",
  "clientCert.subject",
  "autostart",
  "openWith",
] as const;

/** The elements that mark a problem: an invalid input, the form's error box, a group's error. */
export const ERROR_SELECTOR = "[aria-invalid=true], .form-errors, .field-error";

/**
 * Scrolls to the first problem of `root` in reading order and focuses it (an input, or the
 * error text of a group without one); returns it, or `null` when there is none.
 */
export function focusFirstError(root: ParentNode): HTMLElement | null {
  const el = root.querySelector<HTMLElement>(ERROR_SELECTOR);
  if (!el) return null;
  el.scrollIntoView?.({ block: "center" });
  el.focus({ preventScroll: true });
  return el;
}

/** Field errors by form field; `general` holds those the form has no input for. */
export interface FieldErrors {
  byField: Record<string, string>;
  general: string[];
}

const camel = (s: string) => s.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

/**
 * Puts each server error beside its input. Names are matched camelCase (`listen_addr` works
 * too); `clientCert.keyFile`, `clientCert[0]` and `tags[2]` go to the nearest known field.
 * Two errors on one field are joined.
 */
export function mapFieldErrors(fields: FieldError[]): FieldErrors {
  const known = new Set<string>(FORM_FIELDS);
  const out: FieldErrors = { byField: {}, general: [] };
  for (const fe of fields) {
    let key = fe.field
      .split(".")
      .map(camel)
      .join(".")
      .replace(/\[\d+\]/g, "");
    while (key && !known.has(key)) key = key.includes(".") ? key.slice(0, key.lastIndexOf(".")) : "";
    const message = sentence(fe.message);
    if (key === "") {
      out.general.push(fe.field ? `${fe.field}: ${message}` : message);
    } else {
      out.byField[key] = out.byField[key] ? `${out.byField[key]} ${message}` : message;
    }
  }
  return out;
}
