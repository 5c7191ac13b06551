//! The window: top bar, the current page, and the notices.

import { useEffect } from "preact/hooks";
import * as api from "../api";
import { applyTheme } from "../lib/theme";
import { navigate, useRoute } from "../router";
import { startSync } from "../store";
import { ConnectForm } from "./ConnectForm";
import { ConnectionDetail } from "./ConnectionDetail";
import { ConnectionsPage } from "./ConnectionsPage";
import { LoadDialog } from "./LoadDialog";
import { SettingsPage } from "./SettingsPage";
import { Toasts } from "./Toasts";

/** The whole app. */
export function App() {
  const route = useRoute();
  useEffect(() => {
    api.getSettings().then((s) => applyTheme(s.theme), () => applyTheme("system"));
    const stop = startSync();
    const unlisten = api.onLoadFromServer(() => navigate({ page: "load" }));
    return () => {
      stop();
      unlisten.then((u) => u(), () => {});
    };
  }, []);

  const onSettings = route.page === "settings";
  return (
    <>
      <header class="topbar">
        <a class="brand" href="#/">
          <span class="logo" aria-hidden="true" />
          Porthole
        </a>
        <nav aria-label="Main">
          <a href="#/" aria-current={!onSettings ? "page" : undefined}>
            Connections
          </a>
          <a href="#/settings" aria-current={onSettings ? "page" : undefined}>
            Settings
          </a>
        </nav>
      </header>
      <main>
        {(route.page === "list" || route.page === "load") && <ConnectionsPage />}
        {route.page === "load" && <LoadDialog onClose={() => navigate({ page: "list" })} />}
        {route.page === "new" && <ConnectForm id={null} />}
        {route.page === "edit" && <ConnectForm id={route.id} />}
        {route.page === "detail" && <ConnectionDetail id={route.id} />}
        {route.page === "settings" && <SettingsPage />}
      </main>
      <Toasts />
    </>
  );
}
