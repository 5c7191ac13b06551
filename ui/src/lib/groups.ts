//! The list's folders: "All", one per tag, "Untagged"; and the search box's filter.
//!
//! A folder holds the rows the search shows (`items`); its buttons act on exactly those, and
//! its count says so when the search hides some (`total` is the folder's size unfiltered).

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
  /** The rows the search shows: what the folder's buttons act on. */
  items: ConnectionView[];
  active: number;
  /** The folder's size without the search. */
  total: number;
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

function group(
  key: string,
  label: string,
  tag: string | null,
  virtual: boolean,
  all: ConnectionView[],
  query: string,
): Group {
  const items = search(all, query);
  return { key, label, tag, virtual, items, active: items.filter((c) => isActive(c.status)).length, total: all.length };
}

/**
 * Folders for the list: "All" first, then each tag (sorted), then "Untagged" when any
 * connection has no tag; each holds the rows `query` shows. Folders the search empties are
 * dropped, except "All".
 */
export function groupByTag(list: ConnectionView[], query = ""): Group[] {
  const tags = [...new Set(list.flatMap((c) => c.profile.tags))].sort((a, b) =>
    a.localeCompare(b, undefined, { sensitivity: "base" }),
  );
  const out = [group("all", "All", null, true, list, query)];
  for (const t of tags) {
    out.push(group(`tag:${t}`, t, t, false, list.filter((c) => c.profile.tags.includes(t)), query));
  }
  const untagged = list.filter((c) => c.profile.tags.length === 0);
  if (untagged.length > 0) out.push(group("untagged", "Untagged", "", true, untagged, query));
  return out.filter((g, i) => i === 0 || g.items.length > 0);
}

/** The ids a folder's Connect all (`on`) or Disconnect all would change: shown rows only. */
export function bulkTargets(g: Group, on: boolean): string[] {
  return g.items.filter((c) => isActive(c.status) !== on).map((c) => c.profile.id);
}

/** "2 of 5 active"; with a search hiding some: "1 of 2 shown active · 3 hidden by search". */
export function activeText(g: Group): string {
  const hidden = g.total - g.items.length;
  if (hidden <= 0) return `${g.active} of ${g.items.length} active`;
  return `${g.active} of ${g.items.length} shown active · ${hidden} hidden by search`;
}
