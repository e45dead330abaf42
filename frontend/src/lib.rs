//! The browser entry point: hydrates the server-rendered page. Lazily:
//! most pages' code is in pieces of the wasm fetched when a page is shown
//! (`app::routes`), and the page's piece is awaited before its part of the
//! document is hydrated.

use leptos::prelude::document;

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    // The executor Leptos' tasks run on; an error only says it already runs.
    _ = any_spawner::Executor::init_wasm_bindgen();
    leptos::task::spawn_local(async {
        app::load_pieces_outside_routes().await;
        let page =
            leptos::mount::hydrate_from_async(document().body().expect("a page has a body"), app::App).await;
        page.forget();
        // Every part of the page answers from here on: what end-to-end
        // tests wait for.
        if let Ok(Some(app)) = document().query_selector(".app") {
            _ = app.set_attribute("data-hydrated", "true");
        }
    });
}
