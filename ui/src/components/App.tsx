//! The window: top bar, the current page, and the notices.

import { useEffect, useState } from "preact/hooks";
import * as api from "../api";
import { applyTheme } from "../lib/theme";
import { navigate, useRoute } from "../router";
import { isActive } from "../lib/status";
import { liveCount, startSync, useConnections } from "../store";
import { ConnectForm } from "./ConnectForm";
import { ConnectionDetail } from "./ConnectionDetail";
import { ConnectionsPage } from "./ConnectionsPage";
import { ConfirmDialog } from "./Dialog";
import { LoadDialog } from "./LoadDialog";
import { SettingsPage } from "./SettingsPage";
import { Toasts } from "./Toasts";

/** `quitting` when the question was opened by `#/quit`: the count follows the list. */
const ASK = -1;

/** The whole app. */
export function App() {
  const route = useRoute();
  const { list } = useConnections();
  /** Live connections a window close would drop: the quit question is open (`ASK`: count them
   *  as the list arrives). */
  const [quitting, setQuitting] = useState(0);
  useEffect(() => {
    api.getSettings().then((s) => applyTheme(s.theme), () => applyTheme("system"));
    const stop = startSync();
    // The tray opens its pages by route (window::show), so only the quit question is an event.
    const unlisten = [api.onQuitRequested(() => setQuitting(Math.max(1, liveCount())))];
    return () => {
      stop();
      for (const u of unlisten) u.then((f) => f(), () => {});
    };
  }, []);
  // A window opened only to ask (the tray's Quit while the window was closed) starts on #/quit:
  // the event would have come before this page listened.
  useEffect(() => {
    if (route.page !== "quit") return;
    setQuitting(ASK);
    navigate({ page: "list" });
  }, [route.page]);
  const live = quitting === ASK ? Math.max(1, (list ?? []).filter((c) => isActive(c.status)).length) : quitting;

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
        {(route.page === "list" || route.page === "load" || route.page === "quit") && <ConnectionsPage />}
        {route.page === "load" && <LoadDialog onClose={() => navigate({ page: "list" })} />}
        {route.page === "new" && <ConnectForm id={null} />}
        {route.page === "edit" && <ConnectForm id={route.id} />}
        {route.page === "detail" && <ConnectionDetail id={route.id} />}
        {route.page === "settings" && <SettingsPage />}
      </main>
      <Toasts />
      {quitting !== 0 && (
        <ConfirmDialog
          title="Quit Porthole?"
          message={`${live} ${live === 1 ? "connection is" : "connections are"} live. Quitting disconnects ${live === 1 ? "it" : "them"} and cuts every open session.`}
          confirmLabel="Quit"
          danger
          onCancel={() => setQuitting(0)}
          onConfirm={() => {
            setQuitting(0);
            void api.quit();
          }}
        />
      )}
    </>
  );
}
