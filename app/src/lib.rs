//! Weasel's user interface: components, routes and the server functions they
//! call. Compiled twice: with `ssr` into the server, with `hydrate` into the
//! browser's WebAssembly. Server-only code lives behind `ssr` (see `ports`),
//! so no database or AWS crate can ever reach the wasm bundle.

// Views nest deeply (the answer card): the default limit is too low for their types.
#![recursion_limit = "256"]

pub mod api;
mod auth;
pub use auth::SESSION_COOKIE;
mod codec;
pub mod dto;
pub mod error;
pub mod i18n;
mod pages;
mod routes;
#[cfg(feature = "hydrate")]
pub use routes::load_pieces_outside_routes;
mod state;
pub mod stream;

/// HTML that the server rendered (an answer, a question or a title with
/// math; see `weasel-render`, which only the server links): written when
/// the server renders or the browser builds a view, skipped while the
/// browser hydrates, where the element keeps what the server sent. Writing
/// every answer again at hydration made the page unresponsive for a third of
/// a second on a mid-range phone. Read a signal before the call, not inside
/// `make`: skipped at hydration, it would not be tracked, and the view would
/// never follow it.
pub fn server_html(make: impl FnOnce() -> String) -> String {
    #[cfg(feature = "hydrate")]
    if leptos::prelude::Owner::current_shared_context().is_some_and(|context| context.during_hydration()) {
        return String::new();
    }
    make()
}
#[cfg(feature = "ssr")]
pub mod ports;

/// The value of the cookie `name` in a `Cookie` header.
fn cookie<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split(';').find_map(|pair| {
        let (key, value) = pair.trim().split_once('=')?;
        (key == name).then_some(value)
    })
}

use leptos::prelude::*;
use leptos_meta::{Link, Meta, MetaTags, Title, provide_meta_context};
use leptos_router::{
    ParamSegment, SsrMode, StaticSegment,
    components::{Route, Router, Routes},
};

use crate::i18n::{Lang, current_lang};

/// Name of the generated JS/wasm/CSS files under `/pkg` (also cargo-leptos' `name`)
/// when the site was built without hashed names.
pub const OUTPUT_NAME: &str = "weasel";

/// The HTML document around the application, rendered on the server only.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang=current_lang().code()>
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <AutoReload options=options.clone()/>
                <link rel="stylesheet" href=format!("/pkg/{}.css", options.output_name)/>
                <HydrationScript options=options.clone()/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// Loads the WebAssembly and hydrates the page once the browser is first
/// idle after painting it (2 s at the latest). Leptos' `HydrationScripts`
/// also preloads the main files from the head, which makes the wasm
/// download compete with the text and the stylesheet for the first paint;
/// here the page is read first and made interactive right after; the
/// pieces of the wasm a page needs besides the main file follow it (see
/// `routes`).
///
/// A piece fetched later can be gone: a tab opened before a deploy asks for
/// its build's pieces, which the new servers do not have. The wasm then
/// stops (the load ends in a panic), so the page loads again from the
/// server, which sends the new build: the link the student just followed
/// (the router had not moved yet), or else the page itself. At most once a
/// minute, so a page that fails for another reason does not reload forever.
/// A panic ends the same way (the wasm aborts; `scripts/build-site.sh`
/// makes it do so at once, without a message), and the student gets a
/// working page back rather than buttons that no longer answer.
///
/// A page that needs no script (`auth::page_needs_script`) gets none.
#[component]
fn HydrationScript(options: LeptosOptions) -> impl IntoView {
    if !auth::page_needs_script() {
        return None;
    }
    let name = options.output_name.to_string();
    let pkg = options.site_pkg_dir.to_string();
    let script = format!(
        "let clicked = null;\n\
         addEventListener(\"click\", (event) => {{\n\
           const link = event.target instanceof Element && event.target.closest(\"a[href]\");\n\
           if (link && link.origin === location.origin) clicked = {{ href: link.href, at: Date.now() }};\n\
         }}, true);\n\
         const stopped = (error) => {{\n\
           if (!(error instanceof WebAssembly.RuntimeError)) return;\n\
           const last = Number(sessionStorage.getItem(\"weasel-reloaded\") || 0);\n\
           if (Date.now() - last < 60000) return;\n\
           sessionStorage.setItem(\"weasel-reloaded\", String(Date.now()));\n\
           if (clicked && Date.now() - clicked.at < 30000) location.assign(clicked.href); else location.reload();\n\
         }};\n\
         addEventListener(\"error\", (event) => stopped(event.error));\n\
         addEventListener(\"unhandledrejection\", (event) => stopped(event.reason));\n\
         const yieldNow = () => new Promise((resolve) => setTimeout(resolve, 0));\n\
         const hydrate = () => import({js:?}).then((m) => m.default({{ module_or_path: {wasm:?} }}).then(yieldNow).then(() => m.hydrate()));\n\
         if (\"requestIdleCallback\" in window) requestIdleCallback(hydrate, {{ timeout: 2000 }}); else setTimeout(hydrate, 0);",
        js = format!("/{pkg}/{name}.js"),
        wasm = format!("/{pkg}/{name}_bg.wasm"),
    );
    Some(view! { <script type="module" nonce=leptos::nonce::use_nonce()>{script}</script> })
}

/// Every view awaits its resources inside `Suspend::new(async { r.await })`
/// rather than reading them with `.get()` under `<Suspense>`/`<Transition>`:
/// the pattern Leptos recommends, which does not rely on Suspense's task-set
/// effect (reported upstream to miss its last wake-up under load:
/// leptos-rs/leptos#4578, #4851).
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    let lang: Lang = current_lang();
    provide_context(lang);
    auth::provide_auth();

    view! {
        <Link rel="icon" type_="image/svg+xml" href="/favicon.svg"/>
        <Meta name="description" content=lang.t(
            "Weasel — 시험 문제를 올리면 정답부터, 그다음 풀이를 단계별로 알려 주는 AI 튜터",
            "Weasel — an AI exam tutor: the answer first, then a step-by-step explanation",
        )/>
        <Title formatter=|page: String| {
            if page.is_empty() { "Weasel".to_string() } else { format!("{page} · Weasel") }
        }/>
        <Router>
            <pages::Layout>
                <Routes fallback=pages::NotFound>
                    // In-order streaming: every part of the page arrives in
                    // place, so it reads completely without JavaScript.
                    <Route path=StaticSegment("") view=pages::Home ssr=SsrMode::InOrder/>
                    <Route path=StaticSegment("sign-in") view=routes::SignIn::route() ssr=SsrMode::InOrder/>
                    <Route path=StaticSegment("sign-up") view=routes::SignUp::route() ssr=SsrMode::InOrder/>
                    <Route path=StaticSegment("forgot-password") view=routes::ForgotPassword::route() ssr=SsrMode::InOrder/>
                    <Route path=StaticSegment("reset-password") view=routes::ResetPassword::route() ssr=SsrMode::InOrder/>
                    // Async: a signed-out visitor must get a real 302, decided before any byte is sent.
                    <Route path=StaticSegment("profile") view=routes::Profile::route() ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("c"), ParamSegment("id")) view=routes::Conversation::route() ssr=SsrMode::Async/>
                    <Route path=StaticSegment("search") view=routes::Search::route() ssr=SsrMode::Async/>
                    // Async: an unknown or revoked link must answer a real 404.
                    <Route path=(StaticSegment("s"), ParamSegment("token")) view=routes::Shared::route() ssr=SsrMode::Async/>
                </Routes>
            </pages::Layout>
        </Router>
    }
}

/// A title without its LaTeX delimiters, for where no markup can go (the
/// browser tab): `$x^2$의 최댓값` → `x^2의 최댓값`.
pub fn plain_title(title: &str) -> String {
    ["\\(", "\\)", "\\[", "\\]", "$"]
        .iter()
        .fold(title.to_owned(), |title, delimiter| title.replace(delimiter, ""))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_plain_title_has_no_math_delimiters() {
        assert_eq!(
            super::plain_title("$\\lim_{x \\to 0}$ 계산"),
            "\\lim_{x \\to 0} 계산"
        );
        assert_eq!(super::plain_title("\\(x^2\\)의 최댓값"), "x^2의 최댓값");
    }
}
