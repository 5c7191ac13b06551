//! "Load from server…": the preview's counts and field names as the dialog shows them.

import type { PortalPreview, PortalReport } from "../types";

const FIELD_LABELS: Record<string, string> = {
  name: "Name",
  destination: "Destination",
  pomeriumUrl: "Pomerium URL",
  caFile: "CA file",
  disableTlsVerification: "TLS verification off",
  source: "Route id",
};

/** The label of a changed field (`pomeriumUrl` → "Pomerium URL"). */
export function fieldLabel(field: string): string {
  return FIELD_LABELS[field] ?? field;
}

/** "3 new, 1 changed, 2 unchanged, 1 gone" (zero counts left out; "no routes" when empty). */
export function previewSummary(p: PortalPreview): string {
  const parts: string[] = [];
  if (p.new.length) parts.push(`${p.new.length} new`);
  if (p.changed.length) parts.push(`${p.changed.length} changed`);
  if (p.unchanged.length) parts.push(`${p.unchanged.length} unchanged`);
  if (p.gone.length) parts.push(`${p.gone.length} gone`);
  if (p.skipped.length) parts.push(`${p.skipped.length} skipped`);
  return parts.length ? parts.join(", ") : "no routes";
}

/** How many connections accepting would add, update or remove. */
export function pendingCount(p: PortalPreview, remove: ReadonlySet<string>): number {
  return p.new.length + p.changed.length + p.gone.filter((g) => remove.has(g.id)).length;
}

/** "Loaded from https://p: 3 added, 1 updated, 0 removed". */
export function portalReportText(server: string, r: PortalReport): string {
  return `Loaded from ${server}: ${r.added} added, ${r.updated} updated, ${r.removed} removed`;
}
