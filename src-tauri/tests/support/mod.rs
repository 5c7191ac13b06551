//! The desktop app on Tauri's mock runtime, as the IPC suites drive it: a real [`App`] in a
//! temporary folder run in-process (the one-process app of macOS and Windows; Linux runs the same
//! commands in portholed), every command of ours allowed, and a main window to invoke them from.

use porthole_client::app::{App, AppOptions};
use serde_json::Value;
use tauri::ipc::{CallbackFn, InvokeBody};
use tauri::test::{INVOKE_KEY, MockRuntime, get_ipc_response, mock_builder, mock_context, noop_assets};
use tauri::webview::InvokeRequest;
use tauri::{Builder, Manager, WebviewWindow};

/// The app over [`AppOptions::isolated`]`(dir)`, with what `plugins` adds to the builder.
pub fn mock_app(
    dir: &std::path::Path,
    plugins: impl FnOnce(Builder<MockRuntime>) -> Builder<MockRuntime>,
) -> (tauri::App<MockRuntime>, WebviewWindow<MockRuntime>) {
    let core = App::open(AppOptions::isolated(dir)).expect("app opens");
    // The mock context has no capabilities compiled in: allow our own commands (the real build
    // allows app commands from the app's own pages; the desktop e2e test proves that path).
    let mut context = mock_context(noop_assets());
    for cmd in porthole_desktop::COMMANDS {
        context.runtime_authority_mut().__allow_command((*cmd).to_owned(), tauri::utils::acl::ExecutionContext::Local);
    }
    let app = plugins(porthole_desktop::with_commands(mock_builder())).build(context).expect("builds");
    app.manage(porthole_desktop::backend::Backend::Local(porthole_desktop::shell::local(app.handle(), core)));
    let window = tauri::WebviewWindowBuilder::new(&app, "main", Default::default()).build().expect("window");
    (app, window)
}

/// Invokes `cmd` with `args` from `window`, as the UI does: its JSON answer, or its error.
pub fn invoke(window: &WebviewWindow<MockRuntime>, cmd: &str, args: Value) -> Result<Value, Value> {
    let request = InvokeRequest {
        cmd: cmd.into(),
        callback: CallbackFn(0),
        error: CallbackFn(1),
        url: "tauri://localhost".parse().expect("url"),
        body: InvokeBody::Json(args),
        headers: Default::default(),
        invoke_key: INVOKE_KEY.to_string(),
    };
    get_ipc_response(window, request).map(|b| b.deserialize::<Value>().expect("json"))
}
