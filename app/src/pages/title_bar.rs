//! A conversation's title bar: its title, renamable in place, its share
//! link and its delete button.

use leptos::{form::ActionForm, prelude::*};

use crate::{
    api::{DeleteConversation, RenameConversation, RevokeShare, ShareConversation, share_path},
    auth::reload_on_success,
    error::Field,
    i18n::use_lang,
};

/// The conversation's title, renamable in place, its share link and its
/// delete button.
#[component]
pub fn TitleBar(id: i64, title: String, title_html: String, share: Option<String>) -> impl IntoView {
    let lang = use_lang();
    let editing = RwSignal::new(false);
    let rename = ServerAction::<RenameConversation>::new();
    let delete = ServerAction::<DeleteConversation>::new();
    // A new title shows in the page, its tab and the list: load it afresh.
    reload_on_success(rename.value(), move || format!("/c/{id}"));
    reload_on_success(delete.value(), || "/".to_string());
    let rename_error = move || {
        rename.value().get().and_then(|r| r.err()).map(|e| {
            e.field(Field::Title)
                .map(|p| p.message(lang).to_string())
                .unwrap_or_else(|| e.message(lang))
        })
    };
    let confirm_delete = super::confirm_first(lang.t(
        "이 대화를 지울까요? 되돌릴 수 없어요.",
        "Delete this conversation? This cannot be undone.",
    ));
    let title = StoredValue::new(title);
    view! {
        <header class="title-bar">
            <Show
                when=move || editing.get()
                fallback=move || view! {
                    <h1 class="conversation-title" inner_html=crate::server_html(|| title_html.clone())></h1>
                    <button type="button" class="link" on:click=move |_| editing.set(true)>
                        {lang.t("이름 바꾸기", "Rename")}
                    </button>
                }
            >
                <ActionForm action=rename attr:class="rename-form">
                    <input type="hidden" name="id" value=id/>
                    <input name="title" value=title.get_value() maxlength="100" required=true
                        aria-label=lang.t("대화 이름", "Conversation name")/>
                    <button type="submit" class="primary">{lang.t("저장", "Save")}</button>
                </ActionForm>
            </Show>
            {move || rename_error().map(|m| view! { <p class="form-error" role="alert">{m}</p> })}
            <ShareControl id share/>
            <ActionForm action=delete attr:class="delete-form" on:submit=confirm_delete>
                <input type="hidden" name="id" value=id/>
                <button type="submit" class="link danger-link">{lang.t("삭제", "Delete")}</button>
            </ActionForm>
        </header>
    }
}

/// Makes, shows, copies and revokes the conversation's public link. Both
/// actions reload the page (or, without JavaScript, redirect back to it).
#[component]
fn ShareControl(id: i64, share: Option<String>) -> impl IntoView {
    let lang = use_lang();
    let create = ServerAction::<ShareConversation>::new();
    let revoke = ServerAction::<RevokeShare>::new();
    reload_on_success(create.value(), move || format!("/c/{id}"));
    reload_on_success(revoke.value(), move || format!("/c/{id}"));
    let failure = move || {
        let create = create.value().get().and_then(Result::err);
        let revoke = revoke.value().get().and_then(Result::err);
        create
            .or(revoke)
            .map(|e| view! { <p class="form-error" role="alert">{e.message(lang)}</p> })
    };
    let control = match share {
        None => view! {
            <ActionForm action=create attr:class="share-form">
                <input type="hidden" name="id" value=id/>
                <button type="submit" class="link">{lang.t("공유 링크 만들기", "Share a link")}</button>
            </ActionForm>
        }
        .into_any(),
        Some(token) => {
            let path = share_path(&token);
            let href = path.clone();
            // The full address, as it will be pasted (known once in the browser).
            let origin = RwSignal::new(String::new());
            Effect::new(move |_| origin.set(window().location().origin().unwrap_or_default()));
            let shown = {
                let path = path.clone();
                move || format!("{}{path}", origin.get())
            };
            let copied = RwSignal::new(false);
            let copy = {
                let path = path.clone();
                move |_| {
                    let origin = window().location().origin().unwrap_or_default();
                    super::copy_to_clipboard(format!("{origin}{path}"));
                    copied.set(true);
                }
            };
            view! {
                <div class="share-live">
                    <span>{lang.t("읽기 전용 링크:", "Read-only link:")}</span>
                    " "
                    <a href=href data-testid="share-link" rel="external">{shown}</a>
                    <button type="button" class="link" on:click=copy>
                        {move || if copied.get() { lang.t("복사했어요", "Copied") } else { lang.t("링크 복사", "Copy link") }}
                    </button>
                    <ActionForm action=revoke attr:class="share-form">
                        <input type="hidden" name="id" value=id/>
                        <button type="submit" class="link danger-link">{lang.t("공유 중지", "Stop sharing")}</button>
                    </ActionForm>
                </div>
            }
            .into_any()
        }
    };
    view! { {control} {failure} }
}
