//! Page components.

mod auth;
mod form;
mod history;
mod photos;
mod profile;
mod share;
mod solve;
mod title_bar;

pub use auth::{ForgotPassword, RequireUser, ResetPassword, SignIn, SignUp};
pub use history::{SearchPage, conversation_nav};
pub use profile::Profile;
pub use share::SharedPage;
pub use solve::{Composer, ConversationPage};

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_location;

use crate::{
    api::SignOut,
    auth::use_auth,
    i18n::{Lang, use_lang},
    state::ListVersion,
};

/// Header, main area and status footer shared by every page.
#[component]
pub fn Layout(children: Children) -> impl IntoView {
    ListVersion::provide();
    let lang = use_lang();

    view! {
        // The browser entry point (`weasel-frontend`) sets `true` once the
        // whole page is hydrated, its lazy piece included; end-to-end tests
        // wait for it. A page sent without its wasm says `static`.
        <div class="app" data-hydrated=if crate::auth::page_needs_script() { "false" } else { "static" }>
            <header class="app-header">
                <a class="brand" href="/">
                    <img src="/favicon.svg" alt="" width="28" height="28"/>
                    <span>"Weasel"</span>
                </a>
                <span class="tagline">{lang.t("AI 시험 튜터", "AI exam tutor")}</span>
                <nav class="header-nav">
                    <UserMenu/>
                    <LanguageSwitch/>
                </nav>
            </header>
            <div class="app-body">
                <history::Sidebar/>
                <main class="app-main">{children()}</main>
            </div>
            <SiteFooter/>
        </div>
    }
}

#[component]
fn UserMenu() -> impl IntoView {
    let lang = use_lang();
    let auth = use_auth();
    view! {
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                match auth.user.await {
                    Ok(Some(user)) => {
                        let email = user.email.clone();
                        view! {
                        <a href="/profile" class="user-link" data-testid="user-menu" title=email>
                            <span class="user-email">{user.email}</span>
                            <span class="user-short">{lang.t("내 정보", "Profile")}</span>
                        </a>
                        <SignOutButton/>
                        }.into_any()
                    }
                    _ => view! {
                        <a href="/sign-in" class="button-link">{lang.t("로그인", "Sign in")}</a>
                        <a href="/sign-up" class="header-sign-up">{lang.t("회원가입", "Sign up")}</a>
                    }.into_any(),
                }
            })}
        </Transition>
    }
}

/// Signing out from every page: a plain HTML form, before hydration and
/// after. The server answers its post with a redirect to `/`
/// (`api::redirect_form`), so the next page is loaded afresh, as every sign-in
/// or sign-out does (`auth`). Not an `ActionForm`: that would bring the
/// form-data decoder into the wasm every visitor downloads, for a button that
/// needs no script at all.
#[component]
fn SignOutButton() -> impl IntoView {
    let lang = use_lang();
    let url = <SignOut as leptos::server_fn::ServerFn>::url();
    view! {
        <form method="post" action=url class="header-sign-out">
            <button type="submit" class="link" data-testid="header-sign-out">{lang.t("로그아웃", "Sign out")}</button>
        </form>
    }
}

/// Plain links to a server route that sets the cookie and comes back, so the
/// switch works with or without JavaScript.
#[component]
fn LanguageSwitch() -> impl IntoView {
    let lang = use_lang();
    let location = use_location();
    let link = move |to: Lang| {
        // `search` comes without its `?`.
        let search = location.search.get();
        let here = if search.is_empty() {
            location.pathname.get()
        } else {
            format!("{}?{search}", location.pathname.get())
        };
        format!(
            "/lang/{}?next={}",
            to.code(),
            crate::auth::encode_component(&here)
        )
    };
    let other = match lang {
        Lang::Ko => Lang::En,
        Lang::En => Lang::Ko,
    };
    view! {
        <a class="lang-switch" rel="external" href=move || link(other) hreflang=other.code()>
            {match other {
                Lang::Ko => "한국어",
                Lang::En => "English",
            }}
        </a>
    }
}

#[component]
pub fn Home() -> impl IntoView {
    let lang = use_lang();
    let auth = use_auth();
    view! {
        <Title text=""/>
        <section class="hero">
            <h1>{lang.t("정답부터, 그다음 풀이까지.", "The answer first, then every step.")}</h1>
            <p>
                {lang.t(
                    "수능 국어·영어·수학 문제를 붙여넣으면, Weasel이 정답을 먼저 알려 주고 단계별로 설명해요.",
                    "Paste a CSAT problem in Korean, English or math: Weasel gives the answer first, then explains it step by step.",
                )}
            </p>
        </section>
        // A student's composer is in the students' piece of the wasm; a
        // visitor's is small and in the main file (see `routes`).
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                match auth.user.await {
                    Ok(Some(_)) => crate::routes::student_composer().await,
                    _ => view! { <solve::VisitorComposer/> }.into_any(),
                }
            })}
        </Transition>
    }
}

/// What every page ends with: what Weasel is, for students. The service's
/// state is for operators (`/readyz`, `/metrics`), not for this line.
#[component]
fn SiteFooter() -> impl IntoView {
    let lang = use_lang();
    view! {
        <footer class="app-footer">
            <span>{lang.t(
                "Weasel · 정답부터, 그다음 풀이까지. AI의 풀이는 틀릴 수 있으니 꼭 확인하세요.",
                "Weasel · The answer first, then every step. AI can be wrong: check it.",
            )}</span>
        </footer>
    }
}

/// Puts `text` on the clipboard (in the browser; nothing on the server).
fn copy_to_clipboard(text: String) {
    #[cfg(feature = "hydrate")]
    {
        let _ = window().navigator().clipboard().write_text(&text);
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = text;
}

/// A form's submit handler that asks `question` first (the browser's
/// confirm dialog) and cancels the submit unless the student agrees.
fn confirm_first(question: &'static str) -> impl Fn(leptos::ev::SubmitEvent) + Copy {
    move |event: leptos::ev::SubmitEvent| {
        if !window().confirm_with_message(question).unwrap_or(false) {
            event.prevent_default();
        }
    }
}

/// The 404 page; also sets the HTTP status when rendered on the server.
#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::NOT_FOUND);
    }
    let lang = use_lang();

    view! {
        <Title text=lang.t("페이지를 찾을 수 없어요", "Page not found")/>
        <section class="not-found">
            <h1>{lang.t("404 — 페이지를 찾을 수 없어요", "404 — Page not found")}</h1>
            <p>{lang.t("주소가 바뀌었거나 삭제된 페이지예요.", "The address changed or the page was removed.")}</p>
            <a href="/">{lang.t("처음으로 돌아가기", "Back to the start")}</a>
        </section>
    }
}
