//! Sign-in and sign-up pages, and the guard for pages that need a user.
//! The forms are `ActionForm`s: plain HTML posts before hydration, fetches after.

use leptos::{form::ActionForm, prelude::*};
use leptos_meta::Title;
use leptos_router::{
    components::Redirect,
    hooks::{use_location, use_query_map},
};

use super::form::{FormError, TextField};
use crate::{
    api::{ProviderView, SignIn as SignInFn, SignUp as SignUpFn, safe_next, sign_in_providers},
    auth::{current_path, encode_component, reload_on_success, use_auth},
    error::Field,
    i18n::use_lang,
};

/// Renders `children` for a signed-in user; sends anyone else to sign-in and
/// back here afterwards.
#[component]
pub fn RequireUser(children: ChildrenFn) -> impl IntoView {
    let auth = use_auth();
    let location = use_location();
    let children = StoredValue::new(children);
    view! {
        <Suspense fallback=|| ()>
            {move || auth.user.get().map(|user| match user {
                Ok(Some(_)) => children.read_value()().into_any(),
                _ => {
                    let here = current_path(&location);
                    view! { <Redirect path=format!("/sign-in?next={}", encode_component(&here))/> }.into_any()
                }
            })}
        </Suspense>
    }
}

/// The `next` query parameter, made safe.
fn next_param() -> Memo<String> {
    let query = use_query_map();
    Memo::new(move |_| safe_next(&query.read().get("next").unwrap_or_default()))
}

#[component]
pub fn SignIn() -> impl IntoView {
    let lang = use_lang();
    let action = ServerAction::<SignInFn>::new();
    let next = next_param();
    reload_on_success(action.value(), move || next.get_untracked());
    let error = Signal::derive(move || action.value().get().and_then(|r| r.err()));
    view! {
        <Title text=lang.t("로그인", "Sign in")/>
        <section class="auth-card">
            <h1>{lang.t("로그인", "Sign in")}</h1>
            <FormError error/>
            <ActionForm action=action attr:class="form" attr:novalidate=true>
                <input type="hidden" name="next" value=next/>
                <TextField name="email" label=lang.t("이메일", "Email") kind="email" autocomplete="username" field=Field::Email error/>
                <TextField name="password" label=lang.t("비밀번호", "Password") kind="password" autocomplete="current-password" field=Field::Password error/>
                <button type="submit" class="primary" disabled=move || action.pending().get()>
                    {lang.t("로그인", "Sign in")}
                </button>
            </ActionForm>
            <OAuthButtons next/>
            <p class="auth-switch">
                {lang.t("처음이신가요? ", "New here? ")}
                <a href=move || format!("/sign-up?next={}", encode_component(&next.get()))>{lang.t("가입하기", "Create an account")}</a>
            </p>
        </section>
    }
}

#[component]
pub fn SignUp() -> impl IntoView {
    let lang = use_lang();
    let action = ServerAction::<SignUpFn>::new();
    let next = next_param();
    reload_on_success(action.value(), move || next.get_untracked());
    let error = Signal::derive(move || action.value().get().and_then(|r| r.err()));
    view! {
        <Title text=lang.t("가입하기", "Create an account")/>
        <section class="auth-card">
            <h1>{lang.t("가입하기", "Create an account")}</h1>
            <FormError error/>
            <ActionForm action=action attr:class="form" attr:novalidate=true>
                <input type="hidden" name="next" value=next/>
                <TextField name="email" label=lang.t("이메일", "Email") kind="email" autocomplete="username" field=Field::Email error/>
                <TextField name="password" label=lang.t("비밀번호 (10자 이상)", "Password (10+ characters)") kind="password" autocomplete="new-password" field=Field::Password error/>
                <TextField name="confirm" label=lang.t("비밀번호 확인", "Confirm password") kind="password" autocomplete="new-password" field=Field::Confirm error/>
                <button type="submit" class="primary" disabled=move || action.pending().get()>
                    {lang.t("가입하기", "Create account")}
                </button>
            </ActionForm>
            <OAuthButtons next/>
            <p class="auth-switch">
                {lang.t("이미 계정이 있나요? ", "Already have an account? ")}
                <a href=move || format!("/sign-in?next={}", encode_component(&next.get()))>{lang.t("로그인", "Sign in")}</a>
            </p>
        </section>
    }
}

/// One button per configured OAuth provider; server routes, hence `rel=external`.
#[component]
fn OAuthButtons(next: Memo<String>) -> impl IntoView {
    let lang = use_lang();
    let providers = Resource::new(|| (), |_| sign_in_providers());
    view! {
        <Suspense fallback=|| ()>
            {move || providers.get().and_then(Result::ok).filter(|p| !p.is_empty()).map(|providers| view! {
                <div class="oauth">
                    <p class="divider">{lang.t("또는", "or")}</p>
                    {providers.into_iter().map(|ProviderView { id, label }| {
                        let href = move || format!("/auth/{id}/start?next={}", encode_component(&next.get()));
                        view! {
                            <a class=format!("oauth-button oauth-{}", label.to_lowercase()) rel="external" href=href>
                                {match lang {
                                    crate::i18n::Lang::Ko => format!("{label}(으)로 계속하기"),
                                    crate::i18n::Lang::En => format!("Continue with {label}"),
                                }}
                            </a>
                        }
                    }).collect_view()}
                </div>
            })}
        </Suspense>
    }
}
