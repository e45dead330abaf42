//! Weasel's user interface: components, routes and the server functions they
//! call. Compiled twice: with `ssr` into the server, with `hydrate` into the
//! browser's WebAssembly. Server-only code lives behind `ssr` (see `ports`),
//! so no database or AWS crate can ever reach the wasm bundle.

// Views nest deeply (the answer card): the default limit is too low for their types.
#![recursion_limit = "256"]

pub mod api;
mod auth;
pub mod dto;
pub mod error;
pub mod i18n;
mod pages;
pub mod stream;
/// Answers as HTML: one renderer for the server and the browser (see `weasel-render`).
pub use render as markdown;
#[cfg(feature = "ssr")]
pub mod ports;

use leptos::prelude::*;
use leptos_meta::{Link, Meta, MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::{
    ParamSegment, SsrMode, StaticSegment,
    components::{Route, Router, Routes},
};

use crate::i18n::{Lang, current_lang};

/// Name of the generated JS/wasm/CSS files under `/pkg` (also cargo-leptos' `name`).
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
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
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
        <Stylesheet id="leptos" href=format!("/pkg/{OUTPUT_NAME}.css")/>
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
                    <Route path=StaticSegment("sign-in") view=pages::SignIn ssr=SsrMode::InOrder/>
                    <Route path=StaticSegment("sign-up") view=pages::SignUp ssr=SsrMode::InOrder/>
                    <Route path=StaticSegment("forgot-password") view=pages::ForgotPassword ssr=SsrMode::InOrder/>
                    <Route path=StaticSegment("reset-password") view=pages::ResetPassword ssr=SsrMode::InOrder/>
                    // Async: a signed-out visitor must get a real 302, decided before any byte is sent.
                    <Route path=StaticSegment("profile") view=pages::Profile ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("c"), ParamSegment("id")) view=pages::ConversationPage ssr=SsrMode::Async/>
                    <Route path=StaticSegment("search") view=pages::SearchPage ssr=SsrMode::Async/>
                    // Async: an unknown or revoked link must answer a real 404.
                    <Route path=(StaticSegment("s"), ParamSegment("token")) view=pages::SharedPage ssr=SsrMode::Async/>
                </Routes>
            </pages::Layout>
        </Router>
    }
}
