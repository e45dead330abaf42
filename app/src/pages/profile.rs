//! The profile page: the account, password change, sign-out, deletion.

use leptos::{form::ActionForm, prelude::*};
use leptos_meta::Title;

use super::form::TextField;
use crate::{
    api::{
        ChangePassword, DeleteAccount, DeleteAllConversations, SignOut, UsageTotals, UserView, dollars,
        my_usage,
    },
    auth::{reload_on_success, use_auth},
    error::{AppError, Field},
    i18n::use_lang,
    pages::RequireUser,
};

#[component]
pub fn Profile() -> impl IntoView {
    let lang = use_lang();
    let auth = use_auth();
    view! {
        <Title text=lang.t("내 정보", "Profile")/>
        <RequireUser>
            {move || Suspend::new(async move {
                auth.user.await.ok().flatten().map(|user| view! { <ProfileFor user/> })
            })}
        </RequireUser>
    }
}

#[component]
fn ProfileFor(user: UserView) -> impl IntoView {
    let lang = use_lang();
    let sign_out = ServerAction::<SignOut>::new();
    let changed = ServerAction::<ChangePassword>::new();
    let delete_account = ServerAction::<DeleteAccount>::new();
    let delete_all = ServerAction::<DeleteAllConversations>::new();
    reload_on_success(sign_out.value(), || "/".to_string());
    reload_on_success(delete_account.value(), || "/".to_string());
    let change_error = Signal::derive(move || changed.value().get().and_then(|r| r.err()));
    let change_done = move || matches!(changed.value().get(), Some(Ok(())));
    let delete_error = Signal::derive(move || delete_account.value().get().and_then(|r| r.err()));
    let providers = user.providers.join(", ");

    view! {
        <section class="profile">
            <h1>{lang.t("내 정보", "Profile")}</h1>
            <dl>
                <dt>{lang.t("이메일", "Email")}</dt>
                <dd data-testid="profile-email">{user.email.clone()}</dd>
                {(!providers.is_empty()).then(|| view! {
                    <dt>{lang.t("연결된 계정", "Linked sign-in")}</dt>
                    <dd data-testid="profile-providers">{providers}</dd>
                })}
            </dl>

            <ActionForm action=sign_out>
                <button type="submit" class="secondary">{lang.t("로그아웃", "Sign out")}</button>
            </ActionForm>

            <Usage/>

            <h2>{lang.t(if user.has_password { "비밀번호 바꾸기" } else { "비밀번호 만들기" }, if user.has_password { "Change password" } else { "Set a password" })}</h2>
            {move || change_done().then(|| view! {
                <p class="form-ok" role="status">{lang.t("비밀번호를 바꿨어요.", "Your password was changed.")}</p>
            })}
            {move || change_error.get().filter(|e| !matches!(e, AppError::Invalid(_))).map(|e| view! {
                <p class="form-error" role="alert">{e.message(lang)}</p>
            })}
            <ActionForm action=changed attr:class="form" attr:novalidate=true>
                {user.has_password.then(|| view! {
                    <TextField name="current" label=lang.t("현재 비밀번호", "Current password") kind="password" autocomplete="current-password" field=Field::CurrentPassword error=change_error/>
                })}
                {(!user.has_password).then(|| view! { <input type="hidden" name="current" value=""/> })}
                <TextField name="password" label=lang.t("새 비밀번호", "New password") kind="password" autocomplete="new-password" field=Field::Password error=change_error/>
                <TextField name="confirm" label=lang.t("새 비밀번호 확인", "Confirm new password") kind="password" autocomplete="new-password" field=Field::Confirm error=change_error/>
                <button type="submit" class="primary">{lang.t("저장", "Save")}</button>
            </ActionForm>

            <h2>{lang.t("대화 모두 지우기", "Delete all conversations")}</h2>
            <p>{lang.t("계정은 그대로 두고 모든 대화와 답을 지워요.", "Removes every conversation and answer; the account stays.")}</p>
            {move || match delete_all.value().get() {
                Some(Ok(count)) => Some(view! {
                    <p class="form-ok" role="status" data-testid="deleted-all">
                        {match lang {
                            crate::i18n::Lang::Ko => format!("대화 {count}개를 지웠어요."),
                            crate::i18n::Lang::En => format!("Deleted {count} conversations."),
                        }}
                    </p>
                }.into_any()),
                Some(Err(e)) => Some(view! { <p class="form-error" role="alert">{e.message(lang)}</p> }.into_any()),
                None => None,
            }}
            <ActionForm action=delete_all on:submit=super::confirm_first(lang.t(
                "모든 대화를 지울까요? 되돌릴 수 없어요.",
                "Delete every conversation? This cannot be undone.",
            ))>
                <button type="submit" class="secondary">{lang.t("대화 모두 지우기", "Delete all conversations")}</button>
            </ActionForm>

            <h2 class="danger-title">{lang.t("계정 삭제", "Delete account")}</h2>
            <p>{lang.t(
                "계정을 지우면 모든 대화와 업로드가 함께 삭제되고 되돌릴 수 없어요. 확인을 위해 이메일 주소를 입력하세요.",
                "Deleting your account removes every conversation and upload, for good. Type your email address to confirm.",
            )}</p>
            {move || delete_error.get().map(|e| view! { <p class="form-error" role="alert">{e.message(lang)}</p> })}
            <ActionForm action=delete_account attr:class="form">
                <TextField form="delete" name="confirm" label=lang.t("이메일 주소", "Email address") kind="email" autocomplete="off" field=Field::Email error=delete_error/>
                <button type="submit" class="danger">{lang.t("계정 영구 삭제", "Delete my account")}</button>
            </ActionForm>
        </section>
    }
}

/// The student's use today and this month, with the daily limits.
#[component]
fn Usage() -> impl IntoView {
    let lang = use_lang();
    let usage = crate::codec::resource(|| (), |_| my_usage());
    let line = move |totals: UsageTotals| match lang {
        crate::i18n::Lang::Ko => format!(
            "질문 {}개 · 토큰 {} · {}",
            totals.answers,
            totals.tokens,
            dollars(totals.cost_micros)
        ),
        crate::i18n::Lang::En => format!(
            "{} questions · {} tokens · {}",
            totals.answers,
            totals.tokens,
            dollars(totals.cost_micros)
        ),
    };
    view! {
        <h2>{lang.t("사용량", "Usage")}</h2>
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                usage.await.ok().map(|u| view! {
                    <dl data-testid="usage">
                        <dt>{lang.t("오늘", "Today")}</dt>
                        <dd data-testid="usage-today">{line(u.today)}</dd>
                        <dt>{lang.t("이번 달", "This month")}</dt>
                        <dd data-testid="usage-month">{line(u.month)}</dd>
                        {(u.answers_per_day > 0).then(|| view! {
                            <dt>{lang.t("하루 한도", "Daily limit")}</dt>
                            <dd data-testid="usage-limit">
                                {match lang {
                                    crate::i18n::Lang::Ko => format!("질문 {}개 (한국 시간 자정에 다시 채워져요)", u.answers_per_day),
                                    crate::i18n::Lang::En => format!("{} questions (resets at midnight Korea time)", u.answers_per_day),
                                }}
                            </dd>
                        })}
                    </dl>
                })
            })}
        </Suspense>
    }
}
