//! `/s/{token}`: a conversation opened through its share link. Read-only,
//! rendered on the server with the same Markdown and math as the owner sees,
//! kept out of search engines and never showing who wrote it.

use leptos::prelude::*;
use leptos_meta::{Meta, Title};
use leptos_router::hooks::use_params_map;

use super::NotFound;
use crate::{
    api::{MessageView, SharedConversation, get_shared},
    i18n::use_lang,
};

#[component]
pub fn SharedPage() -> impl IntoView {
    let params = use_params_map();
    let shared = crate::codec::resource(move || params.read().get("token").unwrap_or_default(), get_shared);
    keep_out_of_search_engines();
    view! {
        <Meta name="robots" content="noindex, nofollow"/>
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                match shared.await {
                    Ok(conversation) => {
                        let token = params.read_untracked().get("token").unwrap_or_default();
                        view! { <Shared conversation token/> }.into_any()
                    }
                    Err(_) => view! { <NotFound/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// Also as headers: `X-Robots-Tag` covers crawlers that skip the HTML, and
/// `no-referrer` keeps the token out of the sites an answer links to.
fn keep_out_of_search_engines() {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        use http::{HeaderName, HeaderValue};
        response.insert_header(
            HeaderName::from_static("x-robots-tag"),
            HeaderValue::from_static("noindex, nofollow"),
        );
        response.insert_header(
            http::header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
    }
}

#[component]
fn Shared(conversation: SharedConversation, token: String) -> impl IntoView {
    let lang = use_lang();
    view! {
        <Title text=crate::plain_title(&conversation.title)/>
        <section class="conversation shared" data-testid="shared-conversation">
            <header class="title-bar">
                <h1 class="conversation-title" inner_html=crate::server_html(|| conversation.title_html.clone())></h1>
            </header>
            <p class="shared-note">
                {lang.t("공유된 풀이예요. 읽기만 할 수 있어요.", "A shared solution, read-only.")}
                " "
                <a href="/">{lang.t("Weasel에서 직접 물어보기", "Ask Weasel yourself")}</a>
            </p>
            {conversation.messages.into_iter().map(|message| view! { <SharedMessage message token=token.clone()/> }).collect_view()}
        </section>
    }
}

#[component]
fn SharedMessage(message: MessageView, token: String) -> impl IntoView {
    if message.from_student {
        view! {
            <div class="msg msg-student">
                <super::photos::QuestionPhotos ids=message.images share=token/>
                <p class="question" inner_html=crate::server_html(|| message.html.clone())></p>
            </div>
        }
        .into_any()
    } else {
        view! {
            <article class="msg msg-answer">
                <div class="markdown" inner_html=crate::server_html(|| message.html.clone())></div>
            </article>
        }
        .into_any()
    }
}
