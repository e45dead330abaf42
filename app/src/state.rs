//! State shared across pages, provided once by the layout.

use leptos::prelude::*;

/// The version of the student's conversation list (the sidebar), bumped
/// when it may have changed without a navigation: an answer finished, so
/// its new conversation may have its model-made title now.
#[derive(Clone, Copy)]
pub struct ListVersion(RwSignal<u32>);

impl ListVersion {
    pub fn provide() {
        provide_context(ListVersion(RwSignal::new(0)));
    }

    pub fn get() -> Option<ListVersion> {
        use_context::<ListVersion>()
    }

    /// The current version; reading it makes the caller follow the list.
    pub fn read(self) -> u32 {
        self.0.get()
    }

    pub fn bump(self) {
        self.0.update(|n| *n += 1);
    }
}
