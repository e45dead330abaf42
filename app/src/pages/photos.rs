//! Photos of a problem on the composer: picked (camera on phones), dropped
//! or pasted; shrunk in the browser to what Claude reads best (long edge
//! 1568 px, re-encoded, which also drops the phone's EXIF); uploaded with a
//! progress bar; removable before sending; and, by default, read out as
//! text the student checks before solving.

use leptos::prelude::*;

#[cfg(feature = "hydrate")]
use crate::error::PhotoProblem;
use crate::{
    api::{Subject, image_path, shared_image_path},
    i18n::{Lang, use_lang},
};

/// The long edge a photo is shrunk to before upload.
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
pub const LONG_EDGE: u32 = 1568;

/// One attached photo, while the composer holds it.
#[derive(Clone, Debug, PartialEq)]
pub struct Photo {
    pub key: u32,
    /// An object URL of the shrunk image (shown at once, before upload).
    pub preview: String,
    /// Percent uploaded.
    pub progress: u8,
    /// The server's id, once stored.
    pub id: Option<String>,
    pub error: Option<String>,
}

/// What the composer's photos are and do.
#[derive(Clone, Copy)]
pub struct Photos {
    pub list: RwSignal<Vec<Photo>>,
    /// Read the photos as text first (default), or solve directly.
    pub read_first: RwSignal<bool>,
    /// The text box's content (transcripts stream into it).
    pub text: RwSignal<String>,
    /// The text is a checked transcript of the photos.
    pub transcribed: RwSignal<bool>,
    pub reading: RwSignal<bool>,
    pub problem: RwSignal<Option<String>>,
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    next_key: StoredValue<u32>,
}

impl Photos {
    pub fn new() -> Self {
        Photos {
            list: RwSignal::new(vec![]),
            read_first: RwSignal::new(true),
            text: RwSignal::new(String::new()),
            transcribed: RwSignal::new(false),
            reading: RwSignal::new(false),
            problem: RwSignal::new(None),
            next_key: StoredValue::new(0),
        }
    }

    /// The stored photos' ids, joined for the form.
    pub fn ids(&self) -> String {
        self.list
            .get()
            .iter()
            .filter_map(|p| p.id.clone())
            .collect::<Vec<_>>()
            .join(",")
    }

    pub fn uploading(&self) -> bool {
        self.list
            .get()
            .iter()
            .any(|p| p.id.is_none() && p.error.is_none())
    }

    pub fn any(&self) -> bool {
        self.list.get().iter().any(|p| p.id.is_some())
    }

    /// Empties the composer after a question was sent.
    pub fn clear(&self) {
        self.list.set(vec![]);
        self.text.set(String::new());
        self.transcribed.set(false);
        self.problem.set(None);
    }

    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    fn key(&self) -> u32 {
        let key = self.next_key.get_value();
        self.next_key.set_value(key + 1);
        key
    }

    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    fn update(&self, key: u32, change: impl FnOnce(&mut Photo)) {
        self.list.update(|list| {
            if let Some(photo) = list.iter_mut().find(|p| p.key == key) {
                change(photo);
            }
        });
    }

    /// Takes files from a picker, a drop or a paste.
    #[cfg(feature = "hydrate")]
    pub fn add_files(&self, files: Option<web_sys::FileList>, lang: Lang) {
        let Some(files) = files else { return };
        for i in 0..files.length() {
            let Some(file) = files.item(i) else { continue };
            if self.list.get_untracked().len() >= crate::api::MAX_PHOTOS {
                self.problem.set(Some(PhotoProblem::TooMany.message(lang).into()));
                return;
            }
            if !file.type_().starts_with("image/") {
                self.problem
                    .set(Some(PhotoProblem::NotAnImage.message(lang).into()));
                continue;
            }
            self.problem.set(None);
            self.transcribed.set(false);
            let key = self.key();
            self.list.update(|list| {
                list.push(Photo {
                    key,
                    preview: String::new(),
                    progress: 0,
                    id: None,
                    error: None,
                })
            });
            let photos = *self;
            leptos::task::spawn_local(async move {
                // What this browser cannot draw (HEIC, a damaged or a
                // renamed file) goes as it is: the server says what is wrong.
                let blob = match browser::shrink(&file).await {
                    Ok(blob) => {
                        let preview = web_sys::Url::create_object_url_with_blob(&blob).unwrap_or_default();
                        photos.update(key, |p| p.preview = preview);
                        blob
                    }
                    Err(_) => (*file).clone(),
                };
                let progress = move |percent| photos.update(key, |p| p.progress = percent);
                match browser::upload(&blob, progress, lang).await {
                    Ok(uploaded) => photos.update(key, |p| {
                        p.progress = 100;
                        p.id = Some(uploaded.id);
                    }),
                    Err(message) => photos.update(key, |p| p.error = Some(message)),
                }
            });
        }
    }

    fn remove(&self, key: u32) {
        let removed = self.list.get_untracked().into_iter().find(|p| p.key == key);
        self.list.update(|list| list.retain(|p| p.key != key));
        self.transcribed.set(false);
        #[cfg(feature = "hydrate")]
        if let Some(photo) = removed {
            let _ = web_sys::Url::revoke_object_url(&photo.preview);
            if let Some(id) = photo.id {
                leptos::task::spawn_local(async move { browser::discard(&id).await });
            }
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = removed;
    }

    /// Streams the transcript of the photos into the text box.
    pub fn read(&self, subject: Subject, lang: Lang) {
        #[cfg(feature = "hydrate")]
        {
            let photos = *self;
            let ids: Vec<String> = self
                .list
                .get_untracked()
                .into_iter()
                .filter_map(|p| p.id)
                .collect();
            if ids.is_empty() {
                return;
            }
            photos.reading.set(true);
            photos.problem.set(None);
            photos.text.set(String::new());
            leptos::task::spawn_local(async move {
                let result = browser::transcribe(ids, subject, move |text| {
                    photos.text.update(|t| t.push_str(&text));
                })
                .await;
                match result {
                    Ok(None) => photos.transcribed.set(true),
                    Ok(Some(message)) | Err(message) => photos.problem.set(Some(message)),
                }
                photos.reading.set(false);
            });
            let _ = lang;
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (subject, lang);
    }
}

impl Default for Photos {
    fn default() -> Self {
        Self::new()
    }
}

/// The camera on "take a photo" buttons.
#[component]
pub fn CameraIcon() -> impl IntoView {
    view! {
        <svg class="icon" aria-hidden="true" viewBox="0 0 24 24" width="18" height="18">
            <path d="M4 8h3l2-3h6l2 3h3v11H4z"/><circle cx="12" cy="13" r="3.5"/>
        </svg>
    }
}

/// The picture on "attach an image" buttons.
#[component]
pub fn ImageIcon() -> impl IntoView {
    view! {
        <svg class="icon" aria-hidden="true" viewBox="0 0 24 24" width="18" height="18">
            <rect x="3.5" y="5" width="17" height="14" rx="2"/><path d="M3.5 16l5-5 4 4 3-3 5 5"/><circle cx="15.5" cy="9" r="1.5"/>
        </svg>
    }
}

/// The attach buttons, the thumbnails and the read/solve choice.
#[component]
pub fn PhotoTray(photos: Photos) -> impl IntoView {
    let lang = use_lang();
    #[cfg(feature = "hydrate")]
    let on_pick = move |event: leptos::ev::Event| {
        use wasm_bindgen::JsCast;
        if let Some(input) = event
            .target()
            .and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok())
        {
            photos.add_files(input.files(), lang);
            input.set_value("");
        }
    };
    #[cfg(not(feature = "hydrate"))]
    let on_pick = move |_: leptos::ev::Event| {};
    view! {
        <div class="photo-tray">
            <div class="photo-buttons">
                <label class="button-like secondary">
                    <input type="file" accept="image/*" capture="environment" class="visually-hidden"
                        data-testid="photo-camera" on:change=on_pick/>
                    <CameraIcon/>
                    {lang.t("사진 찍기", "Take photo")}
                </label>
                <label class="button-like secondary">
                    <input type="file" accept="image/*" multiple=true class="visually-hidden"
                        data-testid="photo-input" on:change=on_pick/>
                    <ImageIcon/>
                    {lang.t("이미지 첨부", "Attach image")}
                </label>
                <span class="photo-hint">{lang.t("붙여넣기·끌어놓기도 돼요 (최대 4장)", "Paste or drop works too (up to 4)")}</span>
            </div>
            <ul class="thumbnails" data-testid="thumbnails">
                <For each=move || photos.list.get() key=|p| (p.key, p.progress, p.id.clone(), p.error.clone(), p.preview.clone()) let:photo>
                    <Thumbnail photo photos/>
                </For>
            </ul>
            {move || photos.problem.get().map(|m| view! { <p class="form-error" role="alert" data-testid="photo-problem">{m}</p> })}
            {move || photos.any().then(|| view! {
                <fieldset class="photo-mode">
                    <legend class="visually-hidden">{lang.t("사진 처리 방법", "How to use the photos")}</legend>
                    <label>
                        <input type="radio" name="photo-mode" checked=move || photos.read_first.get()
                            on:change=move |_| photos.read_first.set(true)/>
                        {lang.t("먼저 읽기 (글자 확인 후 풀기)", "Read it first (check the text, then solve)")}
                    </label>
                    <label>
                        <input type="radio" name="photo-mode" checked=move || !photos.read_first.get()
                            on:change=move |_| photos.read_first.set(false)/>
                        {lang.t("바로 풀기", "Solve directly")}
                    </label>
                </fieldset>
            })}
        </div>
    }
}

#[component]
fn Thumbnail(photo: Photo, photos: Photos) -> impl IntoView {
    let lang = use_lang();
    let key = photo.key;
    let done = photo.id.is_some();
    view! {
        <li class="thumbnail" data-testid="thumbnail" data-uploaded=done.to_string()>
            {(!photo.preview.is_empty()).then(|| view! {
                <img src=photo.preview.clone() alt=lang.t("첨부한 사진", "Attached photo")/>
            })}
            {match (&photo.error, done) {
                (Some(error), _) => view! { <span class="thumb-error" role="alert">{error.clone()}</span> }.into_any(),
                (None, false) => view! {
                    <progress max="100" value=photo.progress data-testid="upload-progress"
                        aria-label=lang.t("올리는 중", "Uploading")></progress>
                }.into_any(),
                (None, true) => ().into_any(),
            }}
            <button type="button" class="thumb-remove" aria-label=lang.t("사진 빼기", "Remove photo")
                on:click=move |_| photos.remove(key)>"×"</button>
        </li>
    }
}

/// A question's photos, each a link to its full size.
#[component]
pub fn QuestionPhotos(ids: Vec<String>, #[prop(optional)] share: Option<String>) -> impl IntoView {
    let lang = use_lang();
    (!ids.is_empty()).then(|| {
        view! {
            <div class="question-photos" data-testid="question-photos">
                {ids.into_iter().enumerate().map(|(i, id)| {
                    let src = match &share {
                        Some(token) => shared_image_path(token, &id),
                        None => image_path(&id),
                    };
                    let alt = format!("{} {}", lang.t("문제 사진", "Problem photo"), i + 1);
                    let full = src.clone();
                    view! {
                        <a href=full target="_blank" rel="noopener">
                            <img src=src alt=alt loading="lazy"/>
                        </a>
                    }
                }).collect_view()}
            </div>
        }
    })
}

/// The message for a refusal body, or a general one.
#[cfg(feature = "hydrate")]
fn refusal_message(body: &str, lang: Lang) -> String {
    crate::codec::from_json::<crate::api::UploadRefusal>(body)
        .map(|r| r.message)
        .unwrap_or_else(|_| PhotoProblem::Unavailable.message(lang).into())
}

#[cfg(feature = "hydrate")]
mod browser {
    use js_sys::{Promise, Reflect, Uint8Array};
    use wasm_bindgen::{JsCast, JsValue, closure::Closure};
    use wasm_bindgen_futures::JsFuture;

    use super::{LONG_EDGE, refusal_message};
    use crate::{
        api::{IMAGE_UPLOAD_PATH, Subject, UploadedImage},
        error::PhotoProblem,
        i18n::Lang,
        stream::{TRANSCRIBE_PATH, TranscribeRequest, TranscriptEvent},
    };

    /// The photo drawn upright at most [`LONG_EDGE`] px long and encoded
    /// again: PNG for screenshots (sharp text), JPEG otherwise.
    pub async fn shrink(file: &web_sys::File) -> Result<web_sys::Blob, PhotoProblem> {
        let window = web_sys::window().ok_or(PhotoProblem::CannotOpen)?;
        let bitmap = window
            .create_image_bitmap_with_blob(file)
            .map_err(|_| PhotoProblem::CannotOpen)?;
        let bitmap: web_sys::ImageBitmap = JsFuture::from(bitmap)
            .await
            .map_err(|_| PhotoProblem::CannotOpen)?
            .unchecked_into();
        let (w, h) = (bitmap.width(), bitmap.height());
        let scale = (f64::from(LONG_EDGE) / f64::from(w.max(h).max(1))).min(1.0);
        let (nw, nh) = (
            ((f64::from(w) * scale).round() as u32).max(1),
            ((f64::from(h) * scale).round() as u32).max(1),
        );
        let canvas: web_sys::HtmlCanvasElement = window
            .document()
            .and_then(|d| d.create_element("canvas").ok())
            .ok_or(PhotoProblem::CannotOpen)?
            .unchecked_into();
        canvas.set_width(nw);
        canvas.set_height(nh);
        let context: web_sys::CanvasRenderingContext2d = canvas
            .get_context("2d")
            .ok()
            .flatten()
            .ok_or(PhotoProblem::CannotOpen)?
            .unchecked_into();
        let lossless = matches!(file.type_().as_str(), "image/png" | "image/gif");
        if !lossless {
            context.set_fill_style_str("#ffffff");
            context.fill_rect(0.0, 0.0, f64::from(nw), f64::from(nh));
        }
        context
            .draw_image_with_image_bitmap_and_dw_and_dh(&bitmap, 0.0, 0.0, f64::from(nw), f64::from(nh))
            .map_err(|_| PhotoProblem::CannotOpen)?;
        bitmap.close();
        let (kind, quality) = if lossless {
            ("image/png", JsValue::UNDEFINED)
        } else {
            ("image/jpeg", JsValue::from_f64(0.85))
        };
        let promise = Promise::new(&mut |resolve, _reject| {
            let done = Closure::once_into_js(move |blob: JsValue| {
                let _ = resolve.call1(&JsValue::NULL, &blob);
            });
            let _ = canvas.to_blob_with_type_and_encoder_options(done.unchecked_ref(), kind, &quality);
        });
        let blob = JsFuture::from(promise)
            .await
            .map_err(|_| PhotoProblem::CannotOpen)?;
        blob.dyn_into::<web_sys::Blob>()
            .map_err(|_| PhotoProblem::CannotOpen)
    }

    /// Uploads one image, telling `progress` the percent sent.
    pub async fn upload(
        blob: &web_sys::Blob,
        progress: impl Fn(u8) + 'static,
        lang: Lang,
    ) -> Result<UploadedImage, String> {
        let failed = || PhotoProblem::Unavailable.message(lang).to_string();
        let xhr = web_sys::XmlHttpRequest::new().map_err(|_| failed())?;
        xhr.open("POST", IMAGE_UPLOAD_PATH).map_err(|_| failed())?;
        let on_progress =
            Closure::<dyn FnMut(web_sys::ProgressEvent)>::new(move |event: web_sys::ProgressEvent| {
                if event.length_computable() && event.total() > 0.0 {
                    progress((event.loaded() / event.total() * 100.0).min(99.0) as u8);
                }
            });
        if let Ok(target) = xhr.upload() {
            target.set_onprogress(Some(on_progress.as_ref().unchecked_ref()));
        }
        let ended = Promise::new(&mut |resolve, _reject| {
            let done = Closure::once_into_js(move || {
                let _ = resolve.call0(&JsValue::NULL);
            });
            xhr.set_onloadend(Some(done.unchecked_ref()));
        });
        xhr.send_with_opt_blob(Some(blob)).map_err(|_| failed())?;
        let _ = JsFuture::from(ended).await;
        drop(on_progress);
        let status = xhr.status().unwrap_or(0);
        let body = xhr.response_text().ok().flatten().unwrap_or_default();
        if status == 201 {
            crate::codec::from_json(&body).map_err(|_| failed())
        } else if status == 413 {
            Err(PhotoProblem::TooLarge.message(lang).into())
        } else {
            Err(refusal_message(&body, lang))
        }
    }

    /// Takes an unsent upload back (best effort: unsent uploads are swept anyway).
    pub async fn discard(id: &str) {
        let init = web_sys::RequestInit::new();
        init.set_method("DELETE");
        if let Some(window) = web_sys::window() {
            let _ = JsFuture::from(window.fetch_with_str_and_init(&format!("/api/images/{id}"), &init)).await;
        }
    }

    /// Streams the transcript; `Ok(Some(message))` when it stopped early.
    pub async fn transcribe(
        images: Vec<String>,
        subject: Subject,
        mut on_text: impl FnMut(String),
    ) -> Result<Option<String>, String> {
        let lang = crate::i18n::current_lang();
        let failed = || PhotoProblem::Unavailable.message(lang).to_string();
        let window = web_sys::window().ok_or_else(failed)?;
        let body = serde_json::to_string(&TranscribeRequest { images, subject }).map_err(|_| failed())?;
        let init = web_sys::RequestInit::new();
        init.set_method("POST");
        init.set_body(&JsValue::from_str(&body));
        let headers = web_sys::Headers::new().map_err(|_| failed())?;
        let _ = headers.set("content-type", "application/json");
        init.set_headers(&headers);
        let response: web_sys::Response =
            JsFuture::from(window.fetch_with_str_and_init(TRANSCRIBE_PATH, &init))
                .await
                .map_err(|_| failed())?
                .unchecked_into();
        if !response.ok() {
            let text = match response.text() {
                Ok(promise) => JsFuture::from(promise).await.ok().and_then(|t| t.as_string()),
                Err(_) => None,
            };
            return Err(refusal_message(&text.unwrap_or_default(), lang));
        }
        let reader: web_sys::ReadableStreamDefaultReader =
            response.body().ok_or_else(failed)?.get_reader().unchecked_into();
        let mut pending: Vec<u8> = vec![];
        loop {
            let chunk = JsFuture::from(reader.read()).await.map_err(|_| failed())?;
            let done = Reflect::get(&chunk, &"done".into())
                .ok()
                .and_then(|d| d.as_bool())
                .unwrap_or(true);
            if done {
                return Err(failed());
            }
            if let Ok(value) = Reflect::get(&chunk, &"value".into()) {
                pending.extend(value.unchecked_into::<Uint8Array>().to_vec());
            }
            while let Some(end) = pending.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = pending.drain(..=end).collect();
                match serde_json::from_slice::<TranscriptEvent>(&line) {
                    Ok(TranscriptEvent::Text { text }) => on_text(text),
                    Ok(TranscriptEvent::Done { message }) => return Ok(message),
                    Err(_) => {}
                }
            }
        }
    }
}
