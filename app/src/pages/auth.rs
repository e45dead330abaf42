//! Sign-in, sign-up and password-reset pages, and the guard for pages that
//! need a user. The forms are `ActionForm`s: plain HTML posts before
//! hydration, fetches after.
//!
//! Sign-up sends a confirmation link; the link opens the sign-in page, and
//! signing in there (mail and password together) confirms the address.

use leptos::{form::ActionForm, prelude::*};
use leptos_meta::Title;
use leptos_router::{
    components::Redirect,
    hooks::{use_location, use_query_map},
};

use super::form::{FormError, TextField};
use crate::{
    api::{
        ForgotPassword as ForgotPasswordFn, ProviderView, ResetPassword as ResetPasswordFn,
        SignIn as SignInFn, SignUp as SignUpFn, safe_next, sign_in_providers,
    },
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
            {move || {
                let location = location.clone();
                Suspend::new(async move {
                    match auth.user.await {
                        Ok(Some(_)) => children.read_value()().into_any(),
                        _ => {
                            let here = current_path(&location);
                            view! { <Redirect path=format!("/sign-in?next={}", encode_component(&here))/> }.into_any()
                        }
                    }
                })
            }}
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
    let query = use_query_map();
    let oauth_error = move || {
        query
            .read()
            .get("oauth_error")
            .map(|code| oauth_message(&code, lang))
    };
    let verify = move || query.read().get("verify").unwrap_or_default();
    let notice = move || {
        let query = query.read();
        if query.get("verify").is_some_and(|t| !t.is_empty()) {
            Some(lang.t(
                "이메일 주소를 확인하는 중이에요. 가입할 때 정한 비밀번호로 로그인하면 확인이 끝나요.",
                "Confirming your email: sign in with the password you chose to finish.",
            ))
        } else if query.get("reset").is_some() {
            Some(lang.t(
                "비밀번호를 바꿨어요. 새 비밀번호로 로그인해 주세요.",
                "Your password was changed. Sign in with the new one.",
            ))
        } else {
            None
        }
    };
    view! {
        <Title text=lang.t("로그인", "Sign in")/>
        <section class="auth-card">
            <h1>{lang.t("로그인", "Sign in")}</h1>
            {move || notice().map(|message| view! {
                <p class="form-notice" role="status" data-testid="notice">{message}</p>
            })}
            {move || oauth_error().map(|message| view! {
                <p class="form-error" role="alert" data-testid="oauth-error">{message}</p>
            })}
            <FormError error/>
            <ActionForm action=action attr:class="form" attr:novalidate=true>
                <input type="hidden" name="next" value=next/>
                <input type="hidden" name="verify" value=verify/>
                <TextField name="email" label=lang.t("이메일", "Email") kind="email" autocomplete="username" field=Field::Email error/>
                <TextField name="password" label=lang.t("비밀번호", "Password") kind="password" autocomplete="current-password" field=Field::Password error/>
                <button type="submit" class="primary" disabled=move || action.pending().get()>
                    {lang.t("로그인", "Sign in")}
                </button>
            </ActionForm>
            <p class="auth-switch">
                <a href="/forgot-password">{lang.t("비밀번호를 잊으셨나요?", "Forgot your password?")}</a>
            </p>
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
    let error = Signal::derive(move || action.value().get().and_then(|r| r.err()));
    // After a plain form post the server sends the browser to `?sent=1`.
    let query = use_query_map();
    let sent = move || matches!(action.value().get(), Some(Ok(()))) || query.read().get("sent").is_some();
    view! {
        <Title text=lang.t("가입하기", "Create an account")/>
        <section class="auth-card">
            <h1>{lang.t("가입하기", "Create an account")}</h1>
            <Show
                when=move || !sent()
                fallback=move || view! {
                    <p class="form-notice" role="status" data-testid="sign-up-sent">
                        {lang.t(
                            "확인 메일을 보냈어요. 메일의 링크를 열고 비밀번호로 로그인하면 가입이 끝나요. 메일이 보이지 않으면 스팸함도 확인해 주세요.",
                            "We sent you an email. Open its link and sign in with your password to finish. If it is not there, check your spam folder.",
                        )}
                    </p>
                }
            >
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
            </Show>
            <p class="auth-switch">
                {lang.t("이미 계정이 있나요? ", "Already have an account? ")}
                <a href=move || format!("/sign-in?next={}", encode_component(&next.get()))>{lang.t("로그인", "Sign in")}</a>
            </p>
        </section>
    }
}

/// Asks for a reset link by mail.
#[component]
pub fn ForgotPassword() -> impl IntoView {
    let lang = use_lang();
    let action = ServerAction::<ForgotPasswordFn>::new();
    let error = Signal::derive(move || action.value().get().and_then(|r| r.err()));
    let query = use_query_map();
    let sent = move || matches!(action.value().get(), Some(Ok(()))) || query.read().get("sent").is_some();
    view! {
        <Title text=lang.t("비밀번호 재설정", "Reset your password")/>
        <section class="auth-card">
            <h1>{lang.t("비밀번호 재설정", "Reset your password")}</h1>
            <Show
                when=sent
                fallback=move || view! {
                    <p>{lang.t(
                        "가입한 이메일 주소를 적으면 비밀번호를 새로 정하는 링크를 보내 드려요.",
                        "Enter your account's email and we will send you a link to choose a new password.",
                    )}</p>
                }
            >
                <p class="form-notice" role="status" data-testid="reset-sent">
                    {lang.t(
                        "이 주소로 가입한 계정이 있다면 15분 동안 쓸 수 있는 링크를 보냈어요.",
                        "If an account uses this address, we sent it a link that works for 15 minutes.",
                    )}
                </p>
            </Show>
            <FormError error/>
            <ActionForm action=action attr:class="form" attr:novalidate=true>
                <TextField name="email" label=lang.t("이메일", "Email") kind="email" autocomplete="username" field=Field::Email error/>
                <button type="submit" class="primary" disabled=move || action.pending().get()>
                    {lang.t("링크 보내기", "Send the link")}
                </button>
            </ActionForm>
            <p class="auth-switch"><a href="/sign-in">{lang.t("로그인으로 돌아가기", "Back to sign in")}</a></p>
        </section>
    }
}

/// Chooses a new password with the token of a reset link.
#[component]
pub fn ResetPassword() -> impl IntoView {
    let lang = use_lang();
    let action = ServerAction::<ResetPasswordFn>::new();
    reload_on_success(action.value(), || "/sign-in?reset=1".to_string());
    let error = Signal::derive(move || action.value().get().and_then(|r| r.err()));
    let query = use_query_map();
    let token = move || query.read().get("token").unwrap_or_default();
    view! {
        <Title text=lang.t("새 비밀번호", "Choose a new password")/>
        <section class="auth-card">
            <h1>{lang.t("새 비밀번호", "Choose a new password")}</h1>
            <FormError error/>
            {move || matches!(error.get(), Some(crate::error::AppError::LinkExpired)).then(|| view! {
                <p class="auth-switch"><a href="/forgot-password">{lang.t("새 링크 받기", "Get a new link")}</a></p>
            })}
            <ActionForm action=action attr:class="form" attr:novalidate=true>
                <input type="hidden" name="token" value=token/>
                <TextField name="password" label=lang.t("새 비밀번호 (10자 이상)", "New password (10+ characters)") kind="password" autocomplete="new-password" field=Field::Password error/>
                <TextField name="confirm" label=lang.t("새 비밀번호 확인", "Confirm new password") kind="password" autocomplete="new-password" field=Field::Confirm error/>
                <button type="submit" class="primary" disabled=move || action.pending().get()>
                    {lang.t("비밀번호 바꾸기", "Change password")}
                </button>
            </ActionForm>
        </section>
    }
}

/// Why an OAuth sign-in came back without signing in (`oauth_error=`).
fn oauth_message(code: &str, lang: crate::i18n::Lang) -> &'static str {
    match code {
        "denied" => lang.t("로그인을 취소했어요.", "Sign-in was cancelled."),
        "email_exists" => lang.t(
            "이 이메일로 가입한 계정이 이미 있어요. 비밀번호로 로그인한 뒤 내 정보에서 연결해 주세요.",
            "An account with this email already exists. Sign in with your password first.",
        ),
        "state" => lang.t(
            "로그인 요청이 만료되었어요. 다시 시도해 주세요.",
            "The sign-in attempt expired. Please try again.",
        ),
        _ => lang.t(
            "외부 계정으로 로그인하지 못했어요. 잠시 뒤 다시 시도해 주세요.",
            "Signing in with that provider failed. Please try again.",
        ),
    }
}

/// One button per configured OAuth provider; server routes, hence `rel=external`.
#[component]
fn OAuthButtons(next: Memo<String>) -> impl IntoView {
    let lang = use_lang();
    let providers = crate::codec::resource(|| (), |_| sign_in_providers());
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                providers.await.ok().filter(|p| !p.is_empty()).map(|providers| view! {
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
                })
            })}
        </Suspense>
    }
}
