//! The conversation list beside every page, and the title bar of a
//! conversation (rename, delete).

use leptos::{form::ActionForm, prelude::*};
use leptos_meta::Title;
use leptos_router::hooks::{use_location, use_query_map};

use super::RequireUser;

use crate::{
    api::{
        ConversationSummary, DeleteConversation, RenameConversation, RevokeShare, SearchHit,
        ShareConversation, list_conversations, search, share_path, sidebar_conversations,
    },
    auth::reload_on_success,
    error::Field,
    i18n::{date_label, use_lang},
};

/// Bumped when the list may have changed without a navigation: an answer
/// finished, so its new conversation may have its model-made title now.
#[derive(Clone, Copy)]
pub struct ListVersion(RwSignal<u32>);

impl ListVersion {
    pub fn provide() {
        provide_context(ListVersion(RwSignal::new(0)));
    }

    pub fn get() -> Option<ListVersion> {
        use_context::<ListVersion>()
    }

    pub fn bump(self) {
        self.0.update(|n| *n += 1);
    }
}

/// The signed-in user's conversations (nothing for anyone else). The first
/// page comes with the page; "more" loads the next ones.
#[component]
pub fn Sidebar() -> impl IntoView {
    let lang = use_lang();
    let location = use_location();
    let version = ListVersion::get();
    // Reloaded on every navigation, so a new problem appears at the top. One
    // server call that also says whether anyone is signed in: a list resource
    // that depended on the user resource made server rendering fetch twice,
    // and the browser's hydration disagree with the HTML.
    let first = Resource::new(
        move || (location.pathname.get(), version.map(|v| v.0.get())),
        |_| sidebar_conversations(),
    );
    let more = RwSignal::new(Vec::<ConversationSummary>::new());
    let next = RwSignal::new(None::<String>);
    let loading = RwSignal::new(false);
    let load_more = move |_| {
        let Some(cursor) = next.get_untracked() else {
            return;
        };
        loading.set(true);
        leptos::task::spawn_local(async move {
            if let Ok(page) = list_conversations(Some(cursor)).await {
                more.update(|items| items.extend(page.items));
                next.set(page.next);
            }
            loading.set(false);
        });
    };
    // On phones the list is a drawer. A checkbox opens it, so it works
    // before (and without) WebAssembly; moving to another page closes it.
    let drawer_open = RwSignal::new(false);
    Effect::new(move |_| {
        location.pathname.track();
        location.search.track();
        drawer_open.set(false);
    });
    view! {
        // Awaited inside `Suspend` rather than read with `.get()`: see `App`.
        <Transition fallback=|| ()>
            {move || Suspend::new(async move { first.await.ok().flatten().map(|page| {
                more.set(Vec::new());
                next.set(page.next.clone());
                view! {
                <nav class="side-nav" aria-label=lang.t("내 대화", "My conversations")>
                <input type="checkbox" id="drawer-toggle" class="drawer-toggle"
                    prop:checked=move || drawer_open.get()
                    on:change=move |ev| drawer_open.set(event_target_checked(&ev))/>
                <label for="drawer-toggle" class="drawer-button">{lang.t("☰ 내 대화", "☰ My conversations")}</label>
                <label for="drawer-toggle" class="drawer-backdrop" aria-hidden="true"></label>
                <div class="sidebar">
                    <a class="new-problem" href="/">{lang.t("+ 새 문제", "+ New problem")}</a>
                    <form class="search-form" method="get" action="/search" role="search">
                        <input type="search" name="q" required=true maxlength="100"
                            value=move || (location.pathname.get() == "/search")
                                .then(|| location.query.get().get("q"))
                                .flatten()
                                .unwrap_or_default()
                            aria-label=lang.t("대화 검색", "Search conversations")
                            placeholder=lang.t("검색", "Search")/>
                    </form>
                    <ul class="conversation-list" data-testid="conversation-list">
                        {page.items.into_iter().map(|c| view! { <Item conversation=c/> }).collect_view()}
                        <For each=move || more.get() key=|c| c.id let:conversation>
                            <Item conversation/>
                        </For>
                    </ul>
                    {move || next.get().is_some().then(|| view! {
                        <button type="button" class="link" on:click=load_more disabled=move || loading.get()>
                            {lang.t("더 보기", "Show more")}
                        </button>
                    })}
                </div>
                </nav>
            }})})}
        </Transition>
    }
}

#[component]
fn Item(conversation: ConversationSummary) -> impl IntoView {
    let location = use_location();
    let href = format!("/c/{}", conversation.id);
    let current = {
        let href = href.clone();
        move || (location.pathname.get() == href).then_some("page")
    };
    let lang = use_lang();
    let meta = format!(
        "{} · {}",
        super::solve::subject_name(conversation.subject, lang),
        date_label(conversation.updated_at)
    );
    view! {
        <li>
            {conversation.photo.map(|id| view! {
                <img class="conversation-photo" src=crate::api::image_path(&id) alt="" loading="lazy"
                    width="28" height="28" data-testid="conversation-photo"/>
            })}
            <a href=href aria-current=current inner_html=crate::server_html(|| conversation.title_html.clone())></a>
            <span class="conversation-meta">{meta}</span>
        </li>
    }
}

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
    let confirm_delete = move |event: leptos::ev::SubmitEvent| {
        let sure = window()
            .confirm_with_message(lang.t(
                "이 대화를 지울까요? 되돌릴 수 없어요.",
                "Delete this conversation? This cannot be undone.",
            ))
            .unwrap_or(false);
        if !sure {
            event.prevent_default();
        }
    };
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

/// `/search?q=…`: the conversations whose questions or answers contain the
/// words, with the match highlighted. A plain GET form, so it works without
/// JavaScript too.
#[component]
pub fn SearchPage() -> impl IntoView {
    let lang = use_lang();
    let query = use_query_map();
    let q = move || query.read().get("q").unwrap_or_default();
    let hits = Resource::new(q, search);
    view! {
        <Title text=lang.t("검색", "Search")/>
        <RequireUser>
            <section class="search-results">
                <h1>{move || format!("{} “{}”", lang.t("검색:", "Search:"), q())}</h1>
                <Suspense fallback=|| ()>
                    {move || Suspend::new(async move {
                        match hits.await {
                            Ok(hits) if hits.is_empty() => view! {
                                <p data-testid="no-results">{lang.t("찾은 대화가 없어요.", "No conversation matches.")}</p>
                            }.into_any(),
                            Ok(hits) => view! {
                                <ul class="hits" data-testid="search-results">
                                    {hits.into_iter().map(|hit| view! { <Hit hit/> }).collect_view()}
                                </ul>
                            }.into_any(),
                            Err(err) => view! { <p class="form-error">{err.message(lang)}</p> }.into_any(),
                        }
                    })}
                </Suspense>
            </section>
        </RequireUser>
    }
}

#[component]
fn Hit(hit: SearchHit) -> impl IntoView {
    let lang = use_lang();
    let meta = format!(
        "{} · {}",
        super::solve::subject_name(hit.subject, lang),
        date_label(hit.at)
    );
    view! {
        <li>
            <a href=format!("/c/{}", hit.conversation) inner_html=crate::server_html(|| hit.title_html.clone())></a>
            <span class="conversation-meta" data-testid="hit-meta">{meta}</span>
            <p class="snippet">{hit.before}<mark>{hit.matched}</mark>{hit.after}</p>
        </li>
    }
}
