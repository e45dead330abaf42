//! Page components.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::api::{ServiceStatus, check_status};

/// Header, main area and status footer shared by every page.
#[component]
pub fn Layout(children: Children) -> impl IntoView {
    // Effects run only in the browser, so this flips once hydration is done;
    // end-to-end tests (and CSS) wait for `data-hydrated="true"`.
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));

    view! {
        <div class="app" data-hydrated=move || hydrated.get().to_string()>
            <header class="app-header">
                <a class="brand" href="/">
                    <img src="/favicon.svg" alt="" width="28" height="28"/>
                    <span>"Weasel"</span>
                </a>
                <span class="tagline">"AI 시험 튜터 · AI exam tutor"</span>
            </header>
            <main class="app-main">{children()}</main>
            <StatusFooter/>
        </div>
    }
}

/// The subjects a student can pick; each later gets its own system prompt.
const SUBJECTS: [(&str, &str); 4] = [
    ("국어", "지문과 문제를 붙여넣으세요. 정답부터 알려 드릴게요."),
    (
        "영어",
        "Paste the passage and the question. The answer comes first.",
    ),
    ("수학", "수학 문제를 입력하세요. 수식은 $x^2$처럼 써도 돼요."),
    ("기타", "어떤 과목이든 문제를 붙여넣으세요."),
];

#[component]
pub fn Home() -> impl IntoView {
    let subject = RwSignal::new(0usize);
    let hint = move || SUBJECTS[subject.get()].1;

    view! {
        <Title text=""/>
        <section class="hero">
            <h1>"정답부터, 그다음 풀이까지."</h1>
            <p>"수능 국어·영어·수학 문제를 붙여넣거나 사진으로 올리면, Weasel이 정답을 먼저 알려 주고 단계별로 설명해요."</p>
        </section>
        <section class="subjects" aria-label="과목">
            {SUBJECTS
                .iter()
                .enumerate()
                .map(|(i, (name, _))| {
                    view! {
                        <button
                            type="button"
                            class="subject"
                            aria-pressed=move || (subject.get() == i).to_string()
                            on:click=move |_| subject.set(i)
                        >
                            {*name}
                        </button>
                    }
                })
                .collect_view()}
        </section>
        <p class="subject-hint" data-testid="subject-hint">{hint}</p>
    }
}

/// Shows the server's state; rendered on the server, refreshable in the browser.
#[component]
fn StatusFooter() -> impl IntoView {
    let refresh = RwSignal::new(0u32);
    let status = Resource::new(move || refresh.get(), |_| check_status());

    view! {
        <footer class="app-footer">
            <Suspense fallback=|| view! { <span>"상태 확인 중…"</span> }>
                {move || status.get().map(|result| match result {
                    Ok(status) => view! { <StatusLine status/> }.into_any(),
                    Err(_) => view! {
                        <span class="status status-bad" data-testid="status">"서버에 연결할 수 없어요"</span>
                    }.into_any(),
                })}
            </Suspense>
            <button type="button" class="link" on:click=move |_| refresh.update(|n| *n += 1)>
                "상태 새로고침"
            </button>
        </footer>
    }
}

#[component]
fn StatusLine(status: ServiceStatus) -> impl IntoView {
    let (class, text) = if status.database_ok {
        ("status status-ok", "정상")
    } else {
        ("status status-bad", "데이터베이스 점검 중")
    };
    view! {
        <span class=class data-testid="status">
            {format!("Weasel v{} · {} · {text}", status.version, status.database.label())}
        </span>
    }
}

/// The 404 page; also sets the HTTP status when rendered on the server.
#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::NOT_FOUND);
    }

    view! {
        <Title text="페이지를 찾을 수 없어요"/>
        <section class="not-found">
            <h1>"404 — 페이지를 찾을 수 없어요"</h1>
            <p>"주소가 바뀌었거나 삭제된 페이지예요. Page not found."</p>
            <a href="/">"처음으로 돌아가기"</a>
        </section>
    }
}
