//! The conversation list beside every page, and search over it.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_location, use_query_map};

use super::RequireUser;

use crate::{
    api::{
        ConversationList, ConversationSummary, SearchHit, list_conversations, search, sidebar_conversations,
    },
    i18n::{date_label, use_lang},
    state::ListVersion,
};

/// The signed-in user's conversations (nothing for anyone else). The first
/// page comes with the page; "more" loads the next ones.
#[component]
pub fn Sidebar() -> impl IntoView {
    let location = use_location();
    let version = ListVersion::get();
    // Reloaded on every navigation, so a new problem appears at the top. One
    // server call that also says whether anyone is signed in: a list resource
    // that depended on the user resource made server rendering fetch twice,
    // and the browser's hydration disagree with the HTML.
    let first = crate::codec::resource(
        move || (location.pathname.get(), version.map(ListVersion::read)),
        |_| sidebar_conversations(),
    );
    view! {
        // Awaited inside `Suspend` rather than read with `.get()`: see `App`.
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                match first.await.ok().flatten() {
                    Some(page) => Some(crate::routes::conversation_nav(page).await),
                    None => None,
                }
            })}
        </Transition>
    }
}

/// The list itself, with search and "more": in the students' piece of the
/// wasm (`routes`), fetched only when someone is signed in. Made again with
/// each first page, which starts it over.
pub fn conversation_nav(page: ConversationList) -> AnyView {
    let lang = use_lang();
    let location = use_location();
    let more = RwSignal::new(Vec::<ConversationSummary>::new());
    let next = RwSignal::new(page.next.clone());
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
        <nav class="side-nav" data-piece="student" aria-label=lang.t("내 대화", "My conversations")>
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
    }
    .into_any()
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

/// `/search?q=…`: the conversations whose questions or answers contain the
/// words, with the match highlighted. A plain GET form, so it works without
/// JavaScript too.
#[component]
pub fn SearchPage() -> impl IntoView {
    let lang = use_lang();
    let query = use_query_map();
    let q = move || query.read().get("q").unwrap_or_default();
    let hits = crate::codec::resource(q, search);
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
