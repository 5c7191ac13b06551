//! Settings: theme, launch at login, and the proxies Porthole holds a login for, with the
//! user each login is for.

import { useEffect, useState } from "preact/hooks";
import * as api from "../api";
import { signOut as forget } from "../actions";
import { applyTheme } from "../lib/theme";
import { toast } from "../lib/toast";
import type { Settings, SignedIn } from "../types";

const THEMES: [Settings["theme"], string][] = [
  ["system", "System"],
  ["light", "Light"],
  ["dark", "Dark"],
];

/** The settings page. */
export function SettingsPage() {
  const [settings, setSettings] = useState<Settings | null>(null);
  const [origins, setOrigins] = useState<SignedIn[] | null>(null);

  useEffect(() => {
    api.getSettings().then(setSettings, (e) => toast(api.toApiError(e).message, "error"));
    api.signedIn().then(setOrigins, () => setOrigins([]));
  }, []);

  const change = async (patch: Partial<Settings>) => {
    if (!settings) return;
    try {
      const saved = await api.setSettings({ ...settings, ...patch });
      setSettings(saved);
      applyTheme(saved.theme);
    } catch (e) {
      toast(api.toApiError(e).message, "error");
    }
  };
  const signOut = async (origin: string) => {
    if (await forget(origin)) setOrigins((o) => (o ?? []).filter((x) => x.origin !== origin));
  };

  return (
    <div class="page">
      <div class="toolbar">
        <h1>Settings</h1>
      </div>
      <section class="card" aria-labelledby="appearance">
        <h2 id="appearance">Appearance</h2>
        <div class="segmented" role="radiogroup" aria-label="Theme">
          {THEMES.map(([value, label]) => (
            <label class="check" key={value}>
              <input
                type="radio"
                name="theme"
                disabled={!settings}
                checked={settings?.theme === value}
                onChange={() => change({ theme: value })}
              />
              {label}
            </label>
          ))}
        </div>
        <p class="hint">System follows your desktop's light or dark setting.</p>
      </section>
      <section class="card" aria-labelledby="startup">
        <h2 id="startup">Startup</h2>
        <label class="check">
          <input
            type="checkbox"
            disabled={!settings}
            checked={settings?.launchAtLogin ?? false}
            onChange={(e) => change({ launchAtLogin: e.currentTarget.checked })}
          />
          Launch Porthole when I log in
        </label>
        <p class="hint">Connections marked “start at launch” connect as soon as Porthole starts.</p>
      </section>
      <section class="card" aria-labelledby="accounts">
        <h2 id="accounts">Signed-in proxies</h2>
        {origins === null ? (
          <p class="muted">Loading…</p>
        ) : origins.length === 0 ? (
          <p class="muted">Not signed in to any proxy. Porthole asks you to log in when a connection needs it.</p>
        ) : (
          <ul class="plain-list">
            {origins.map(({ origin: o, user }) => (
              <li key={o} data-testid="signed-in">
                <span>
                  <strong data-testid="signed-in-user">{user ?? "unknown user"}</strong> at <code>{o}</code>
                </span>
                <button type="button" class="btn btn-small" onClick={() => signOut(o)}>
                  Sign out
                </button>
              </li>
            ))}
          </ul>
        )}
        <p class="hint">Logins are kept in your OS keychain and shared with the porthole command line.</p>
      </section>
    </div>
  );
}
