//! Asking and reading: the composer, and a conversation whose last answer
//! streams in live.

use leptos::{form::ActionForm, prelude::*};
use leptos_meta::Title;
use leptos_router::hooks::{use_navigate, use_params_map, use_query_map};

use super::{
    NotFound, RequireUser,
    photos::{CameraIcon, ImageIcon, PhotoTray, Photos, QuestionPhotos},
};
use crate::{
    api::{
        AnswerStatus, AnswerUsage, Ask, ConversationView, EditQuestion, MessageView, RetryAnswer, StopAnswer,
        Subject, dollars, get_conversation,
    },
    auth::use_auth,
    error::{AppError, Field},
    i18n::{Lang, use_lang},
};

pub(super) fn subject_name(subject: Subject, lang: Lang) -> &'static str {
    match subject {
        Subject::Korean => lang.t("국어", "Korean"),
        Subject::English => lang.t("영어", "English"),
        Subject::Math => lang.t("수학", "Math"),
        Subject::Other => lang.t("기타", "Other"),
    }
}

fn subject_hint(subject: Subject, lang: Lang) -> &'static str {
    match subject {
        Subject::Korean => lang.t(
            "지문과 문제를 붙여넣으세요. 정답부터 알려 드릴게요.",
            "Paste the passage and the question. The answer comes first.",
        ),
        Subject::English => lang.t(
            "영어 지문과 문제를 붙여넣으세요.",
            "Paste the passage and the question. The answer comes first.",
        ),
        Subject::Math => lang.t(
            "수학 문제를 입력하세요. 수식은 $x^2$처럼 써도 돼요.",
            "Type the math problem. Formulas like $x^2$ work.",
        ),
        Subject::Other => lang.t(
            "어떤 과목이든 문제를 붙여넣으세요.",
            "Paste a problem from any subject.",
        ),
    }
}

/// Enter sends, Shift+Enter breaks the line. While an input method is
/// composing (Korean syllables), Enter belongs to the IME: sending then would
/// cut the last syllable or send twice.
#[cfg(feature = "hydrate")]
fn is_send_key(event: &leptos::ev::KeyboardEvent) -> bool {
    event.key() == "Enter" && !event.shift_key() && !event.is_composing() && event.key_code() != 229
}

fn send_on_enter(event: leptos::ev::KeyboardEvent) {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        if !is_send_key(&event) {
            return;
        }
        event.prevent_default();
        let form = event
            .target()
            .and_then(|t| t.dyn_into::<web_sys::HtmlTextAreaElement>().ok())
            .filter(|area| !area.value().trim().is_empty())
            .and_then(|area| area.form());
        if let Some(form) = form {
            let _ = form.request_submit();
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = event;
}

/// A question typed before signing in, kept in the browser (local storage,
/// so the tab the confirmation mail opens has it too) for an hour.
mod pending {
    use leptos::prelude::*;

    use crate::api::Subject;

    #[cfg(feature = "hydrate")]
    const KEY: &str = "weasel.pending-question";

    /// What is kept: `at` is when, in milliseconds since the epoch.
    #[cfg(feature = "hydrate")]
    #[derive(serde::Serialize, serde::Deserialize)]
    struct Kept {
        subject: Subject,
        text: String,
        at: u64,
    }

    #[cfg(feature = "hydrate")]
    fn now_ms() -> u64 {
        js_sys::Date::now() as u64
    }

    pub fn keep(subject: Subject, text: &str) {
        #[cfg(feature = "hydrate")]
        if !text.trim().is_empty()
            && let Ok(Some(storage)) = window().local_storage()
        {
            let kept = Kept {
                subject,
                text: text.to_string(),
                at: now_ms(),
            };
            if let Ok(value) = serde_json::to_string(&kept) {
                let _ = storage.set_item(KEY, &value);
            }
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (subject, text);
    }

    /// The kept question (removed from storage), if there is a fresh one.
    pub fn take() -> Option<(Subject, String)> {
        #[cfg(feature = "hydrate")]
        {
            let storage = window().local_storage().ok().flatten()?;
            let raw = storage.get_item(KEY).ok().flatten()?;
            let _ = storage.remove_item(KEY);
            let Kept { subject, text, at } = crate::codec::from_json(&raw).ok()?;
            let fresh = now_ms().saturating_sub(at) < 3_600_000;
            (fresh && !text.trim().is_empty()).then_some((subject, text))
        }
        #[cfg(not(feature = "hydrate"))]
        None
    }

    /// Submits the composer once the restored text is in the box.
    pub fn send(question_box: NodeRef<leptos::html::Textarea>) {
        #[cfg(feature = "hydrate")]
        request_animation_frame(move || {
            if let Some(form) = question_box.get_untracked().and_then(|area| area.form()) {
                let _ = form.request_submit();
            }
        });
        #[cfg(not(feature = "hydrate"))]
        let _ = question_box;
    }
}

/// The subjects to choose from, and what to paste for the chosen one.
#[component]
fn SubjectPicker(subject: RwSignal<Subject>) -> impl IntoView {
    let lang = use_lang();
    view! {
        <section class="subjects" aria-label=lang.t("과목", "Subject")>
            {Subject::ALL.into_iter().map(|s| view! {
                <button type="button" class="subject"
                    aria-pressed=move || (subject.get() == s).to_string()
                    on:click=move |_| subject.set(s)>
                    {subject_name(s, lang)}
                </button>
            }).collect_view()}
        </section>
        <p class="subject-hint" data-testid="subject-hint">{move || subject_hint(subject.get(), lang)}</p>
    }
}

/// The question box as a visitor sees it: the same subjects, hint and box,
/// and the way to sign in or up with what was typed kept (`pending`; Enter
/// goes to sign-in with it too). Asking and photos need an account, and
/// their code is in the students' piece of the wasm (`routes`), so this is
/// all of the home page's own code a first visit downloads.
#[component]
pub fn VisitorComposer() -> impl IntoView {
    let lang = use_lang();
    let subject = RwSignal::new(Subject::default());
    let text = RwSignal::new(String::new());
    let keep = move |_| pending::keep(subject.get_untracked(), &text.get_untracked());
    #[cfg(feature = "hydrate")]
    let on_keydown = {
        let navigate = use_navigate();
        move |event: leptos::ev::KeyboardEvent| {
            if is_send_key(&event) && !text.get_untracked().trim().is_empty() {
                event.prevent_default();
                pending::keep(subject.get_untracked(), &text.get_untracked());
                navigate("/sign-in", Default::default());
            }
        }
    };
    #[cfg(not(feature = "hydrate"))]
    let on_keydown = move |_: leptos::ev::KeyboardEvent| {};
    view! {
        <SubjectPicker subject/>
        <div class="composer">
            <div class="photo-tray">
                <div class="photo-buttons">
                    <a class="button-like secondary" href="/sign-in" on:click=keep>
                        <CameraIcon/>
                        {lang.t("사진 찍기", "Take photo")}
                    </a>
                    <a class="button-like secondary" href="/sign-in" on:click=keep>
                        <ImageIcon/>
                        {lang.t("이미지 첨부", "Attach image")}
                    </a>
                    <span class="photo-hint">{lang.t("사진으로 묻기는 로그인하면 돼요", "Sign in to ask with a photo")}</span>
                </div>
            </div>
            <textarea
                rows="4"
                maxlength="20000"
                aria-label=lang.t("문제", "Problem")
                placeholder=move || subject_hint(subject.get(), lang)
                data-testid="question-box"
                prop:value=move || text.get()
                on:input=move |e| text.set(event_target_value(&e))
                on:keydown=on_keydown
            ></textarea>
            <div class="sign-in-to-ask">
                <a class="button-link" href="/sign-in" on:click=keep>
                    {lang.t("로그인하고 질문하기", "Sign in to ask")}
                </a>
                <a href="/sign-up" data-testid="home-sign-up" on:click=keep>
                    {lang.t("처음이라면 회원가입", "New here? Sign up")}
                </a>
            </div>
        </div>
    }
}

/// The question box: a new problem (with its subject), or a follow-up.
#[component]
pub fn Composer(#[prop(optional)] conversation: Option<i64>) -> impl IntoView {
    let lang = use_lang();
    let auth = use_auth();
    let action = ServerAction::<Ask>::new();
    let subject = RwSignal::new(Subject::default());
    follow_new_answer(action.value());
    let photos = Photos::new();
    // Sent: the box empties, so a second Enter cannot ask it again.
    Effect::new(move |_| {
        if let Some(Ok(_)) = action.value().get() {
            photos.clear();
        }
    });
    let must_read = move || photos.any() && photos.read_first.get() && !photos.transcribed.get();
    // A question typed before signing in comes back once signed in, and is sent.
    let question_box = NodeRef::<leptos::html::Textarea>::new();
    if conversation.is_none() {
        Effect::new(move |_| {
            if !matches!(auth.user.get(), Some(Ok(Some(_)))) {
                return;
            }
            if let Some((kept_subject, text)) = pending::take() {
                subject.set(kept_subject);
                photos.text.set(text);
                pending::send(question_box);
            }
        });
    }
    #[cfg(feature = "hydrate")]
    let on_paste = move |event: leptos::ev::ClipboardEvent| {
        let files = event.clipboard_data().and_then(|d| d.files());
        if files.as_ref().is_some_and(|f| f.length() > 0) {
            event.prevent_default();
            photos.add_files(files, lang);
        }
    };
    #[cfg(not(feature = "hydrate"))]
    let on_paste = move |_: leptos::ev::ClipboardEvent| {};
    #[cfg(feature = "hydrate")]
    let on_drop = move |event: leptos::ev::DragEvent| {
        event.prevent_default();
        photos.add_files(event.data_transfer().and_then(|d| d.files()), lang);
    };
    #[cfg(not(feature = "hydrate"))]
    let on_drop = move |_: leptos::ev::DragEvent| {};
    let error = move || action.value().get().and_then(|r| r.err());
    let placeholder = move || {
        if conversation.is_some() {
            lang.t(
                "이어서 물어보세요 (Enter 보내기, Shift+Enter 줄바꿈)",
                "Ask a follow-up (Enter sends, Shift+Enter new line)",
            )
        } else {
            subject_hint(subject.get(), lang)
        }
    };

    view! {
        {conversation.is_none().then(|| view! { <SubjectPicker subject/> })}
        <div class="composer-drop" on:dragover=|e: leptos::ev::DragEvent| e.prevent_default() on:drop=on_drop>
        <ActionForm action=action attr:class="composer">
            {conversation.map(|id| view! { <input type="hidden" name="conversation" value=id/> })}
            <input type="hidden" name="subject" value=move || subject.get().code()/>
            <input type="hidden" name="images" prop:value=move || photos.ids()/>
            <input type="hidden" name="transcribed" prop:value=move || if photos.transcribed.get() { "1" } else { "" }/>
            <PhotoTray photos/>
            {move || photos.reading.get().then(|| view! {
                <p class="reading" role="status" data-testid="reading">{lang.t("사진을 읽는 중…", "Reading the photos…")}</p>
            })}
            {move || photos.transcribed.get().then(|| view! {
                <p class="transcript-note" data-testid="transcript-note">
                    {lang.t("사진에서 읽은 글이에요. 틀린 글자를 고친 뒤 풀어 주세요.", "This is what the photos say. Fix any misread word, then solve.")}
                </p>
            })}
            <textarea
                name="question"
                rows="4"
                required=move || !photos.any()
                maxlength="20000"
                aria-label=lang.t("문제", "Problem")
                placeholder=placeholder
                data-testid="question-box"
                node_ref=question_box
                prop:value=move || photos.text.get()
                on:input=move |e| photos.text.set(event_target_value(&e))
                on:keydown=send_on_enter
                on:paste=on_paste
            ></textarea>
            {move || error().map(|e| {
                let text = e.field(Field::Question).map(|p| p.message(lang).to_string()).unwrap_or_else(|| e.message(lang));
                view! { <p class="form-error" role="alert">{text}</p> }
            })}
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    if matches!(auth.user.await, Ok(Some(_))) {
                        view! {
                            {move || if must_read() {
                                view! {
                                    <button type="button" class="primary" data-testid="read-photos"
                                        disabled=move || photos.uploading() || photos.reading.get()
                                        on:click=move |_| photos.read(subject.get_untracked(), lang)>
                                        {lang.t("사진 읽기", "Read the photos")}
                                    </button>
                                }.into_any()
                            } else {
                                view! {
                                    <button type="submit" class="primary" data-testid="send"
                                        disabled=move || action.pending().get() || photos.uploading() || photos.reading.get()>
                                        {move || if photos.transcribed.get() { lang.t("이대로 풀기", "Solve this") } else { lang.t("보내기", "Send") }}
                                    </button>
                                }.into_any()
                            }}
                        }.into_any()
                    } else {
                        view! {
                            <div class="sign-in-to-ask">
                                <a class="button-link" href="/sign-in" on:click=move |_| pending::keep(subject.get_untracked(), &photos.text.get_untracked())>
                                    {lang.t("로그인하고 질문하기", "Sign in to ask")}
                                </a>
                                <a href="/sign-up" data-testid="home-sign-up" on:click=move |_| pending::keep(subject.get_untracked(), &photos.text.get_untracked())>
                                    {lang.t("처음이라면 회원가입", "New here? Sign up")}
                                </a>
                            </div>
                        }.into_any()
                    }
                })}
            </Transition>
        </ActionForm>
        </div>
    }
}

#[component]
pub fn ConversationPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let conversation = crate::codec::resource(
        move || {
            (
                params.read().get("id").and_then(|id| id.parse::<i64>().ok()),
                query.read().get("a"),
            )
        },
        |(id, _)| async move {
            match id {
                Some(id) => get_conversation(id).await,
                None => Err(AppError::NotFound),
            }
        },
    );
    view! {
        <RequireUser>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    match conversation.await {
                        Ok(conversation) => view! { <Conversation conversation/> }.into_any(),
                        Err(_) => view! { <NotFound/> }.into_any(),
                    }
                })}
            </Suspense>
        </RequireUser>
    }
}

#[component]
fn Conversation(conversation: ConversationView) -> impl IntoView {
    let lang = use_lang();
    let id = conversation.id;
    let subject = conversation.subject;
    let last_answer = conversation
        .messages
        .iter()
        .rev()
        .find(|m| !m.from_student)
        .map(|m| m.id);
    view! {
        <Title text=crate::plain_title(&conversation.title)/>
        <section class="conversation">
            <super::title_bar::TitleBar id title=conversation.title.clone() title_html=conversation.title_html.clone() share=conversation.share.clone()/>
            {conversation.emulator.then(|| view! {
                <p class="emulator-note" data-testid="emulator-note">
                    {lang.t(
                        "지금은 오프라인 에뮬레이터가 답하고 있어요. Claude의 답이 아니에요.",
                        "Answers come from the offline emulator, not from Claude.",
                    )}
                </p>
            })}
            {conversation.messages.into_iter().map(|message| {
                if message.from_student {
                    view! { <Question message/> }.into_any()
                } else {
                    let last = Some(message.id) == last_answer;
                    view! { <Answer message last conversation=id subject/> }.into_any()
                }
            }).collect_view()}
            <Composer conversation=id/>
        </section>
    }
}

/// Goes to the answer just started (the conversation page reloads its data
/// because the `a` query changes).
fn follow_new_answer(
    value: impl Get<Value = Option<Result<crate::api::Asked, AppError>>> + Send + Sync + 'static,
) {
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(asked)) = value.get() {
            navigate(
                &format!("/c/{}?a={}", asked.conversation, asked.answer),
                Default::default(),
            );
        }
    });
}

/// A student's question, editable in place: the new text is asked again and
/// replaces every answer after it (after a confirmation). A `<details>`
/// opens the form, so editing works without JavaScript too.
#[component]
fn Question(message: MessageView) -> impl IntoView {
    let lang = use_lang();
    let edit = ServerAction::<EditQuestion>::new();
    follow_new_answer(edit.value());
    let confirm = super::confirm_first(lang.t(
        "질문을 바꾸면 이 질문 뒤의 답변이 모두 새 답변으로 바뀌어요. 계속할까요?",
        "Changing the question replaces every answer after it. Continue?",
    ));
    let error = move || {
        edit.value().get().and_then(|r| r.err()).map(|e| {
            e.field(Field::Question)
                .map(|p| p.message(lang).to_string())
                .unwrap_or_else(|| e.message(lang))
        })
    };
    view! {
        <div class="msg msg-student">
            <QuestionPhotos ids=message.images.clone()/>
            <p class="question" inner_html=crate::server_html(|| message.html.clone())></p>
            <details class="edit-question">
                <summary>{lang.t("질문 수정", "Edit question")}</summary>
                <ActionForm action=edit on:submit=confirm>
                    <input type="hidden" name="question" value=message.id/>
                    <textarea name="text" rows="4" required=true maxlength="20000"
                        aria-label=lang.t("수정할 질문", "Edited question")>{message.content}</textarea>
                    <button type="submit" class="primary" disabled=move || edit.pending().get()>
                        {lang.t("수정해서 다시 묻기", "Ask again")}
                    </button>
                </ActionForm>
                {move || error().map(|m| view! { <p class="form-error" role="alert">{m}</p> })}
            </details>
        </div>
    }
}

fn status_code(status: AnswerStatus) -> &'static str {
    match status {
        AnswerStatus::Streaming => "streaming",
        AnswerStatus::Complete => "complete",
        AnswerStatus::Stopped => "stopped",
        AnswerStatus::Failed => "failed",
        AnswerStatus::Interrupted => "interrupted",
    }
}

fn failure_message(error: Option<&str>, lang: Lang) -> &'static str {
    match error {
        Some("throttled") => lang.t(
            "지금 요청이 많아 답하지 못했어요. 잠시 뒤 다시 시도해 주세요.",
            "The tutor is busy right now. Please try again in a moment.",
        ),
        Some("timeout") => lang.t(
            "답이 너무 오래 멈춰 있었어요.",
            "The answer stalled for too long.",
        ),
        Some("incomplete") => lang.t("답이 중간에 끊겼어요.", "The answer was cut off."),
        Some("model_gone") => lang.t(
            "지금은 답변 모델을 쓸 수 없어요. 운영팀이 알림을 받았으니 잠시 뒤 다시 시도해 주세요.",
            "The answering model is not available right now. The operators have been alerted; please try again later.",
        ),
        Some("storage") => lang.t(
            "답을 저장하지 못했어요. 잠시 뒤 다시 시도해 주세요.",
            "The answer could not be saved. Please try again in a moment.",
        ),
        _ => lang.t(
            "답을 만드는 중에 문제가 생겼어요.",
            "Something went wrong while answering.",
        ),
    }
}

#[component]
fn Answer(message: MessageView, last: bool, conversation: i64, subject: Subject) -> impl IntoView {
    let lang = use_lang();
    let id = message.id;
    let text = RwSignal::new(message.content);
    let html = RwSignal::new(message.html);
    let status = RwSignal::new(message.status);
    let error = RwSignal::new(message.error);
    let usage = RwSignal::new(message.usage);
    let following = RwSignal::new(true);
    if message.status == AnswerStatus::Streaming {
        follow_live(id, Shown { text, html }, status, error, usage);
        keep_in_view(html, status, following);
    }
    // A finished answer may come with a new title for its conversation.
    let list = crate::state::ListVersion::get();
    Effect::new(move |previous: Option<AnswerStatus>| {
        let now = status.get();
        if previous == Some(AnswerStatus::Streaming)
            && now != AnswerStatus::Streaming
            && let Some(list) = list
        {
            list.bump();
        }
        now
    });
    let stop = ServerAction::<StopAnswer>::new();
    let retry = ServerAction::<RetryAnswer>::new();
    let go_on = ServerAction::<Ask>::new();
    follow_new_answer(retry.value());
    follow_new_answer(go_on.value());
    let cut_off =
        move || status.get() == AnswerStatus::Complete && error.get().as_deref() == Some("max_tokens");
    let copied = RwSignal::new(false);
    let copy = move |_| {
        super::copy_to_clipboard(text.get_untracked());
        copied.set(true);
    };
    let ended_badly = move || {
        matches!(
            status.get(),
            AnswerStatus::Failed | AnswerStatus::Stopped | AnswerStatus::Interrupted
        )
    };

    view! {
        <article class="msg msg-answer" data-testid="answer" data-status=move || status_code(status.get())
            data-following=move || following.get().to_string()>
            <div class="markdown" inner_html=move || { let html = html.get(); crate::server_html(|| html) }></div>
            {move || (status.get() != AnswerStatus::Streaming).then(|| view! {
                <div class="answer-tools">
                    <button type="button" class="link" on:click=copy>
                        {move || if copied.get() { lang.t("복사했어요", "Copied") } else { lang.t("Markdown으로 복사", "Copy as Markdown") }}
                    </button>
                    {(last && status.get() == AnswerStatus::Complete).then(|| view! {
                        <ActionForm action=retry>
                            <input type="hidden" name="answer" value=id/>
                            <button type="submit" class="link">{lang.t("다시 생성", "Regenerate")}</button>
                        </ActionForm>
                    })}
                    {move || usage.get().map(|u| view! { <UsageNote usage=u/> })}
                </div>
            }.into_any())}
            {move || (status.get() == AnswerStatus::Streaming && !following.get()).then(|| view! {
                <button type="button" class="follow-answer" data-testid="follow-answer"
                    on:click=move |_| follow_again(following)>
                    {lang.t("↓ 새 답변", "↓ New text")}
                </button>
            })}
            {move || (status.get() == AnswerStatus::Streaming).then(|| view! {
                <div class="answer-live">
                    <span class="typing" aria-live="polite">{lang.t("답을 쓰는 중…", "Writing…")}</span>
                    <ActionForm action=stop>
                        <input type="hidden" name="answer" value=id/>
                        <button type="submit" class="secondary">{lang.t("멈추기", "Stop")}</button>
                    </ActionForm>
                </div>
            })}
            {move || cut_off().then(|| view! {
                <div class="answer-problem" role="status">
                    <span data-testid="answer-cut-off">
                        {lang.t("답이 길어서 최대 길이에서 끊겼어요.", "The answer reached its length limit and was cut off.")}
                    </span>
                    {last.then(|| view! {
                        <ActionForm action=go_on>
                            <input type="hidden" name="conversation" value=conversation/>
                            <input type="hidden" name="subject" value=subject.code()/>
                            <input type="hidden" name="question"
                                value=lang.t("끊긴 곳부터 이어서 계속 써 주세요.", "Please continue exactly where you stopped.")/>
                            <button type="submit" class="secondary">{lang.t("이어서 쓰기", "Continue")}</button>
                        </ActionForm>
                    })}
                </div>
            })}
            {move || ended_badly().then(|| {
                let note = match status.get() {
                    AnswerStatus::Stopped => lang.t("답을 멈췄어요.", "You stopped this answer."),
                    AnswerStatus::Interrupted => lang.t("서버가 다시 시작되어 답이 끊겼어요.", "The server restarted while answering."),
                    _ => failure_message(error.get().as_deref(), lang),
                };
                view! {
                    <div class="answer-problem" role="status">
                        <span data-testid="answer-problem">{note}</span>
                        {last.then(|| view! {
                            <ActionForm action=retry>
                                <input type="hidden" name="answer" value=id/>
                                <button type="submit" class="secondary">{lang.t("다시 시도", "Try again")}</button>
                            </ActionForm>
                        })}
                    </div>
                }
            })}
        </article>
    }
}

/// Keeps a streaming answer's newest text (`html`, as shown) in view while
/// the reader stays at the bottom of the page; scrolling up stops it, and
/// `following` says so (the "↓ 새 답변" button brings them back).
fn keep_in_view(html: RwSignal<String>, status: RwSignal<AnswerStatus>, following: RwSignal<bool>) {
    #[cfg(feature = "hydrate")]
    {
        fn to_bottom() {
            if let Some(root) = document().document_element() {
                window().scroll_to_with_x_and_y(0.0, f64::from(root.scroll_height()));
            }
        }
        // The reader's own moves upwards stop the following at once (before
        // the next delta could scroll them back down); reaching the bottom
        // again resumes it.
        let wheel = window_event_listener(leptos::ev::wheel, move |event| {
            if event.delta_y() < 0.0 {
                following.set(false);
            }
        });
        let touch_y = StoredValue::new(0.0f64);
        let touch_start = window_event_listener(leptos::ev::touchstart, move |event| {
            if let Some(touch) = event.touches().get(0) {
                touch_y.set_value(f64::from(touch.client_y()));
            }
        });
        let touch_move = window_event_listener(leptos::ev::touchmove, move |event| {
            if let Some(touch) = event.touches().get(0)
                && f64::from(touch.client_y()) > touch_y.get_value() + 10.0
            {
                following.set(false);
            }
        });
        let keys = window_event_listener(leptos::ev::keydown, move |event| {
            if matches!(event.key().as_str(), "PageUp" | "ArrowUp" | "Home") {
                following.set(false);
            }
        });
        // Moving up (a scrollbar drag too) stops the following; moving down
        // to the bottom resumes it. A smooth scroll upwards starts near the
        // bottom, so only downward moves may resume.
        let last_y = StoredValue::new(window().scroll_y().unwrap_or(0.0));
        let scroll = window_event_listener(leptos::ev::scroll, move |_| {
            let Some(root) = document().document_element() else {
                return;
            };
            let y = window().scroll_y().unwrap_or(0.0);
            let previous = last_y.get_value();
            last_y.set_value(y);
            let seen = window()
                .inner_height()
                .ok()
                .and_then(|h| h.as_f64())
                .unwrap_or(0.0)
                + y;
            if y < previous - 4.0 {
                following.set(false);
            } else if y > previous && f64::from(root.scroll_height()) - seen < 80.0 {
                following.set(true);
            }
        });
        on_cleanup(move || {
            wheel.remove();
            touch_start.remove();
            touch_move.remove();
            keys.remove();
            scroll.remove();
        });
        Effect::new(move |_| {
            html.track();
            if status.get_untracked() == AnswerStatus::Streaming && following.get_untracked() {
                request_animation_frame(to_bottom);
            }
        });
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (html, status, following);
}

/// Scrolls to the end of the page and follows the answer again.
fn follow_again(following: RwSignal<bool>) {
    #[cfg(feature = "hydrate")]
    if let Some(root) = document().document_element() {
        window().scroll_to_with_x_and_y(0.0, f64::from(root.scroll_height()));
    }
    following.set(true);
}

/// An answer's tokens and cost, folded: the summary is the cost.
#[component]
fn UsageNote(usage: AnswerUsage) -> impl IntoView {
    let lang = use_lang();
    let number = |n: i64| {
        let digits = n.to_string();
        let mut grouped = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                grouped.push(',');
            }
            grouped.push(c);
        }
        grouped
    };
    view! {
        <details class="answer-usage" data-testid="answer-usage">
            <summary>{format!("{} · {}", dollars(usage.cost_micros), lang.t("토큰·비용", "tokens & cost"))}</summary>
            <dl>
                <dt>{lang.t("입력", "Input")}</dt><dd>{number(usage.input_tokens)}</dd>
                <dt>{lang.t("출력", "Output")}</dt><dd>{number(usage.output_tokens)}</dd>
                <dt>{lang.t("캐시 읽기", "Cache read")}</dt><dd>{number(usage.cache_read_tokens)}</dd>
                <dt>{lang.t("캐시 쓰기", "Cache write")}</dt><dd>{number(usage.cache_write_tokens)}</dd>
                <dt>{lang.t("비용", "Cost")}</dt><dd data-testid="answer-cost">{dollars(usage.cost_micros)}</dd>
            </dl>
        </details>
    }
}

/// An answer as the page has it: its text and the HTML the server rendered.
#[derive(Clone, Copy)]
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
struct Shown {
    text: RwSignal<String>,
    html: RwSignal<String>,
}

/// In the browser: continues a streaming answer from where the page has it,
/// through server-sent events. The browser reconnects by itself after a
/// network drop, resuming from the last event id; but an HTTP error (503
/// while the server is busy, 502 from a proxy while a replica restarts)
/// closes the stream for good, which would leave the answer frozen on the
/// page. So then [`live::Live::connect`] opens it again, from the text the page
/// has, after a growing pause.
fn follow_live(
    id: i64,
    shown: Shown,
    status: RwSignal<AnswerStatus>,
    error: RwSignal<Option<String>>,
    usage: RwSignal<Option<AnswerUsage>>,
) {
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        let live = live::Live::new(id, shown, status, error, usage);
        live.connect(0);
        // Leaving the page closes the stream (the answer goes on being written).
        let live = send_wrapper::SendWrapper::new(live);
        on_cleanup(move || live.leave());
    });
    #[cfg(not(feature = "hydrate"))]
    let _ = (id, shown, status, error, usage);
}

#[cfg(feature = "hydrate")]
mod live {
    use std::{cell::RefCell, rc::Rc, time::Duration};

    use leptos::prelude::*;
    use wasm_bindgen::{JsCast, closure::Closure};
    use web_sys::{EventSource, MessageEvent};

    use super::Shown;
    use crate::{
        api::{AnswerStatus, AnswerUsage},
        stream::{DELTA, DONE, Delta, Done, events_path},
    };

    /// How many times in a row a closed stream is opened again before the
    /// page stops trying (about a minute and a quarter of pauses).
    const ATTEMPTS: u32 = 10;

    /// One answer followed live: the stream open now, if any.
    #[derive(Clone)]
    pub struct Live {
        id: i64,
        shown: Shown,
        status: RwSignal<AnswerStatus>,
        error: RwSignal<Option<String>>,
        usage: RwSignal<Option<AnswerUsage>>,
        /// `None` once the page is left.
        source: Rc<RefCell<Option<EventSource>>>,
        left: Rc<std::cell::Cell<bool>>,
    }

    impl Live {
        pub fn new(
            id: i64,
            shown: Shown,
            status: RwSignal<AnswerStatus>,
            error: RwSignal<Option<String>>,
            usage: RwSignal<Option<AnswerUsage>>,
        ) -> Self {
            Live {
                id,
                shown,
                status,
                error,
                usage,
                source: Rc::default(),
                left: Rc::default(),
            }
        }

        pub fn leave(&self) {
            self.left.set(true);
            if let Some(source) = self.source.borrow_mut().take() {
                source.close();
            }
        }

        /// Opens the stream from the text the page has; `failures` is how
        /// many opened before it in a row ended in an error.
        pub fn connect(&self, failures: u32) {
            let Some(from) = self.shown.text.try_with_untracked(String::len) else {
                return;
            };
            if self.left.get() || self.status.try_get_untracked() != Some(AnswerStatus::Streaming) {
                return;
            }
            let Ok(source) = EventSource::new(&events_path(self.id, from)) else {
                return;
            };
            let Shown { text, html } = self.shown;
            // Reset by the first event: only failures in a row count.
            let failures = Rc::new(std::cell::Cell::new(failures));
            let on_delta = {
                let failures = failures.clone();
                Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
                    failures.set(0);
                    let Some(data) = event.data().as_string() else {
                        return;
                    };
                    let Ok(delta) = crate::codec::from_json::<Delta>(&data) else {
                        return;
                    };
                    text.update(|t| {
                        if delta.offset <= t.len() && t.is_char_boundary(delta.offset) {
                            t.truncate(delta.offset);
                            t.push_str(&delta.text);
                        }
                    });
                    if let Some(patch) = delta.html {
                        html.update(|h| {
                            patch.apply(h);
                        });
                    }
                })
            };
            let on_done = {
                let (closer, error, usage, status) = (source.clone(), self.error, self.usage, self.status);
                Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
                    if let Some(done) = event
                        .data()
                        .as_string()
                        .and_then(|d| crate::codec::from_json::<Done>(&d).ok())
                    {
                        error.set(done.error);
                        usage.set(done.usage);
                        status.set(done.status);
                    }
                    closer.close();
                })
            };
            let on_error = {
                let (live, closed) = (self.clone(), source.clone());
                Closure::<dyn FnMut(web_sys::Event)>::new(move |_| {
                    // Still connecting: the browser retries by itself.
                    if closed.ready_state() != EventSource::CLOSED {
                        return;
                    }
                    let failed = failures.get() + 1;
                    if failed > ATTEMPTS {
                        return;
                    }
                    let pause = Duration::from_millis((500u64 << failed.min(5)).min(10_000));
                    let live = live.clone();
                    set_timeout(move || live.connect(failed), pause);
                })
            };
            let _ = source.add_event_listener_with_callback(DELTA, on_delta.as_ref().unchecked_ref());
            let _ = source.add_event_listener_with_callback(DONE, on_done.as_ref().unchecked_ref());
            let _ = source.add_event_listener_with_callback("error", on_error.as_ref().unchecked_ref());
            on_delta.forget();
            on_done.forget();
            on_error.forget();
            if let Some(previous) = self.source.borrow_mut().replace(source) {
                previous.close();
            }
        }
    }
}
