//! The pages a first visit to the home page does not need are pieces of the
//! wasm the browser fetches when it first shows one (`#[lazy]`:
//! `scripts/build-site.sh` cuts the wasm at these functions). The main file
//! keeps the framework, the router, the header and footer, the 404 and the
//! home page as a visitor sees it. A page's pieces are fetched when its
//! hydration reaches them, right after the main file, and the frontend
//! hydrates once they are there. They are not preloaded from the `<head>`
//! (as Leptos offers): a preload there is fetched at high priority, beside
//! the stylesheet, and the conversation page's largest text then painted
//! about a second later in Lighthouse's mobile run (LCP 1.8–2.1 s against
//! 0.8–1.0 s); the page is read first and made interactive right after, as
//! with the main file (`HydrationScript`).

use leptos::prelude::*;
use leptos_router::{Lazy, LazyRoute};

use crate::{api::ConversationList, pages};

/// A route whose view is in the piece `load` fetches; `preload` fetches it
/// early (the router calls it before a navigation).
macro_rules! page_route {
    ($(#[$doc:meta])* $route:ident => $load:ident($($arg:expr)?), preload $preload:ident) => {
        $(#[$doc])*
        pub struct $route;

        impl LazyRoute for $route {
            fn data() -> Self {
                Self
            }

            async fn view(_this: Self) -> AnyView {
                $load($($arg)?).await
            }

            async fn preload() {
                #[cfg(feature = "hydrate")]
                $preload().await;
            }
        }

        impl $route {
            /// The route's view, for `<Route view=…>`.
            pub fn route() -> Lazy<Self> {
                Lazy::new()
            }
        }
    };
}

page_route!(SignIn => account_page(AccountPage::SignIn), preload __preload_account_page);
page_route!(SignUp => account_page(AccountPage::SignUp), preload __preload_account_page);
page_route!(ForgotPassword => account_page(AccountPage::ForgotPassword), preload __preload_account_page);
page_route!(ResetPassword => account_page(AccountPage::ResetPassword), preload __preload_account_page);
page_route!(Profile => student_view(StudentView::Profile), preload __preload_student_view);
page_route!(Conversation => student_view(StudentView::Conversation), preload __preload_student_view);
page_route!(Search => student_view(StudentView::Search), preload __preload_student_view);
page_route!(Shared => shared_page(), preload __preload_shared_page);

/// The conversation list beside every page of a signed-in student
/// (`pages::history::Sidebar`), from the students' piece.
pub async fn conversation_nav(first: ConversationList) -> AnyView {
    student_view(StudentView::ConversationNav(first)).await
}

/// The question box of a signed-in student on the home page, from the
/// students' piece.
pub async fn student_composer() -> AnyView {
    student_view(StudentView::Composer).await
}

/// Fetches, before hydration, the pieces a page shows outside its route.
/// The router waits for a lazy route's piece while it hydrates, but a
/// `Suspend` hydrates at once with what it has, and what it shows from a
/// piece (the conversation list beside every page of a signed-in student,
/// their question box on the home page) would then not match the server's
/// HTML. Such views carry `data-piece="student"`.
#[cfg(feature = "hydrate")]
pub async fn load_pieces_outside_routes() {
    let shows_student_view = document()
        .query_selector(r#"[data-piece="student"]"#)
        .ok()
        .flatten()
        .is_some();
    if shows_student_view {
        __preload_student_view().await;
    }
}

// Each `#[lazy]` function is one cut of the wasm. Few and large: code two
// cuts share goes into a piece of its own, and many small pieces add up to
// more than the whole (brotli does worse on small files, and every call
// across pieces needs an import). They are written out, not made by a
// macro: a cut is named after where its attribute stands.

#[derive(Clone, Copy)]
enum AccountPage {
    SignIn,
    SignUp,
    ForgotPassword,
    ResetPassword,
}

/// Signing in or up and resetting a password: visited one after another.
#[leptos::lazy]
fn account_page(page: AccountPage) -> AnyView {
    match page {
        AccountPage::SignIn => view! { <pages::SignIn/> }.into_any(),
        AccountPage::SignUp => view! { <pages::SignUp/> }.into_any(),
        AccountPage::ForgotPassword => view! { <pages::ForgotPassword/> }.into_any(),
        AccountPage::ResetPassword => view! { <pages::ResetPassword/> }.into_any(),
    }
}

enum StudentView {
    Conversation,
    Profile,
    Search,
    ConversationNav(ConversationList),
    Composer,
}

/// What only a signed-in student sees: conversations, their list and
/// search, the question box that asks, the profile.
#[leptos::lazy]
fn student_view(view: StudentView) -> AnyView {
    match view {
        StudentView::Conversation => view! { <pages::ConversationPage/> }.into_any(),
        StudentView::Profile => view! { <pages::Profile/> }.into_any(),
        StudentView::Search => view! { <pages::SearchPage/> }.into_any(),
        StudentView::ConversationNav(first) => pages::conversation_nav(first),
        StudentView::Composer => view! {
            <div class="student-composer" data-piece="student"><pages::Composer/></div>
        }
        .into_any(),
    }
}

/// A shared answer, read by anyone with the link.
#[leptos::lazy]
fn shared_page() -> AnyView {
    view! { <pages::SharedPage/> }.into_any()
}
