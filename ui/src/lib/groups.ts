//! The list's folders: "All", one per tag, "Untagged"; and the search box's filter.

import type { ConnectionView } from "../types";
import { isActive } from "./status";

/** One collapsible folder of the list. */
export interface Group {
  /** Stable key for UI state (collapsed or not). */
  key: string;
  label: string;
  /** Argument for `connect_tag` / `disconnect_tag`: null = all, "" = untagged. */
  tag: string | null;
  /** Virtual folders ("All", "Untagged") are not tags. */
  virtual: boolean;
  items: ConnectionView[];
  active: number;
}

/** True when every word of `query` appears in the name, destination or a tag. */
export function matches(c: ConnectionView, query: string): boolean {
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  if (words.length === 0) return true;
  const p = c.profile;
  const hay = [p.name, p.destination, ...p.tags].map((s) => s.toLowerCase());
  return words.every((w) => hay.some((h) => h.includes(w)));
}

/** Filters by the search query, keeping the order. */
export function search(list: ConnectionView[], query: string): ConnectionView[] {
  return list.filter((c) => matches(c, query));
}

function group(key: string, label: string, tag: string | null, virtual: boolean, items: ConnectionView[]): Group {
  return { key, label, tag, virtual, items, active: items.filter((c) => isActive(c.status)).length };
}

/**
 * Folders for the list: "All" first, then each tag (sorted), then "Untagged" when any
 * connection has no tag. Empty folders are dropped, except "All".
 */
export function groupByTag(list: ConnectionView[]): Group[] {
  const tags = [...new Set(list.flatMap((c) => c.profile.tags))].sort((a, b) =>
    a.localeCompare(b, undefined, { sensitivity: "base" }),
  );
  const out = [group("all", "All", null, true, list)];
  for (const t of tags) {
    out.push(group(`tag:${t}`, t, t, false, list.filter((c) => c.profile.tags.includes(t))));
  }
  const untagged = list.filter((c) => c.profile.tags.length === 0);
  if (untagged.length > 0) out.push(group("untagged", "Untagged", "", true, untagged));
  return out;
}

/** "2 of 5 active". */
export function activeText(g: Group): string {
  return `${g.active} of ${g.items.length} active`;
}
