//! Hash routes: `#/`, `#/load`, `#/new`, `#/edit/:id`, `#/connection/:id`, `#/settings`, and
//! `#/quit` (the list with the quit question: what a window opened to ask it starts on).

/** A screen of the app. */
export type Route =
  | { page: "list" }
  | { page: "load" }
  | { page: "new" }
  | { page: "edit"; id: string }
  | { page: "detail"; id: string }
  | { page: "settings" }
  | { page: "quit" };

/** Reads a `location.hash`; anything unknown is the list. */
export function parseRoute(hash: string): Route {
  const path = hash.replace(/^#/, "").replace(/^\/+/, "");
  const [head, rest] = [path.split("/")[0], path.split("/").slice(1).join("/")];
  const id = rest ? decodeURIComponent(rest) : "";
  switch (head) {
    case "new":
      return { page: "new" };
    case "load":
      return { page: "load" };
    case "edit":
      return id ? { page: "edit", id } : { page: "list" };
    case "connection":
      return id ? { page: "detail", id } : { page: "list" };
    case "settings":
      return { page: "settings" };
    case "quit":
      return { page: "quit" };
    default:
      return { page: "list" };
  }
}

/** The hash for a route. */
export function routeHash(r: Route): string {
  switch (r.page) {
    case "list":
      return "#/";
    case "new":
      return "#/new";
    case "load":
      return "#/load";
    case "edit":
      return `#/edit/${encodeURIComponent(r.id)}`;
    case "detail":
      return `#/connection/${encodeURIComponent(r.id)}`;
    case "settings":
      return "#/settings";
    case "quit":
      return "#/quit";
  }
}
