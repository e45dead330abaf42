//! Form pieces shared by the pages: labelled inputs that show the server's
//! validation message for their field, and the form-level error line.

use leptos::prelude::*;

use crate::{
    error::{AppError, Field},
    i18n::use_lang,
};

/// The form-level error of an action, in the reader's language.
#[component]
pub fn FormError(error: Signal<Option<AppError>>) -> impl IntoView {
    let lang = use_lang();
    move || {
        error.get().map(|err| {
            view! { <p class="form-error" role="alert" data-testid="form-error">{err.message(lang)}</p> }
        })
    }
}

/// One labelled input with its server-side validation message underneath.
#[component]
pub fn TextField(
    name: &'static str,
    label: &'static str,
    #[prop(default = "text")] kind: &'static str,
    #[prop(optional)] autocomplete: &'static str,
    #[prop(optional)] field: Option<Field>,
    /// Distinguishes ids when one page has two forms with the same field name.
    #[prop(default = "field")]
    form: &'static str,
    error: Signal<Option<AppError>>,
) -> impl IntoView {
    let lang = use_lang();
    let id = format!("{form}-{name}");
    let problem = move || field.and_then(|f| error.get().and_then(|e| e.field(f)));
    let describedby = format!("{id}-error");
    view! {
        <div class="field">
            <label for=id.clone()>{label}</label>
            <input
                id=id
                name=name
                type=kind
                required=true
                autocomplete=autocomplete
                aria-invalid=move || problem().is_some().to_string()
                aria-describedby=describedby.clone()
            />
            <p class="field-error" id=describedby>{move || problem().map(|p| p.message(lang))}</p>
        </div>
    }
}
