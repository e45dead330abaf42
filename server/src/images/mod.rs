//! Photos of problems: checked and re-encoded ([`check`]), kept in an image
//! store ([`store`]), listed in the database, served only to their owner
//! (or through a live share link), and swept when nothing refers to them.
//!
//! An upload writes its row first and its bytes second; if the bytes cannot
//! be stored the row goes again. A crash in between leaves a row without
//! bytes, which the sweeper removes like any unsent upload, never bytes
//! without a row.

pub mod check;
pub mod http;
pub mod store;

use std::{sync::Arc, time::Duration};

use tokio::sync::Semaphore;

pub use check::{Checked, ImageError};
pub use store::{DirectoryStore, ImageStore, S3Store, StoreError};

use crate::{
    config::{ImageSettings, ImageStoreSettings},
    model::{ImageFormat, ModelImage},
    storage::{ImageRow, MessageId, NewImage, Storage, StorageError, UserId},
};

/// At most this many images go with one question.
pub const MAX_PER_QUESTION: usize = 4;
/// Uploads never sent with a question are swept after this long.
pub const PENDING_FOR: Duration = Duration::from_secs(24 * 3600);
/// How often the sweeper looks for images to delete.
pub const SWEEP_EVERY: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error(transparent)]
    Image(#[from] ImageError),
    #[error("the daily image limit is reached")]
    DailyLimit,
    #[error("too many uploads in a short time")]
    TooFast { retry_after_secs: i64 },
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// An image as its uploader learns it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Uploaded {
    pub id: String,
    pub width: u32,
    pub height: u32,
    pub bytes: usize,
    pub media_type: &'static str,
}

pub struct Images {
    storage: Storage,
    store: Arc<dyn ImageStore>,
    settings: ImageSettings,
    /// Decoding a 12-megapixel photo takes ~50 MB; a few at a time keep
    /// the server's memory bounded whatever arrives at once.
    decoding: Semaphore,
}

impl Images {
    pub async fn new(storage: Storage, settings: &ImageSettings) -> Arc<Self> {
        let store: Arc<dyn ImageStore> = match &settings.store {
            ImageStoreSettings::Directory(dir) => Arc::new(DirectoryStore::new(dir.clone())),
            ImageStoreSettings::S3 {
                bucket,
                prefix,
                region,
                endpoint,
                keys,
            } => Arc::new(
                S3Store::new(
                    bucket.clone(),
                    prefix.clone(),
                    region.clone(),
                    endpoint.clone(),
                    keys.as_ref()
                        .map(|(id, secret)| (id.clone(), secret.expose().to_string())),
                )
                .await,
            ),
        };
        Self::with_store(storage, store, settings.clone())
    }

    pub fn with_store(storage: Storage, store: Arc<dyn ImageStore>, settings: ImageSettings) -> Arc<Self> {
        let permits = std::thread::available_parallelism().map_or(2, |n| n.get());
        Arc::new(Images {
            storage,
            store,
            settings,
            decoding: Semaphore::new(permits),
        })
    }

    pub fn settings(&self) -> &ImageSettings {
        &self.settings
    }

    pub fn store(&self) -> &dyn ImageStore {
        self.store.as_ref()
    }

    /// Checks, re-encodes and keeps an upload of `user`.
    pub async fn upload(&self, user: UserId, raw: axum::body::Bytes) -> Result<Uploaded, UploadError> {
        self.throttle(user).await?;
        let checked = {
            let _permit = self
                .decoding
                .acquire()
                .await
                .expect("the semaphore is never closed");
            tokio::task::spawn_blocking(move || check::check(&raw))
                .await
                .map_err(|_| ImageError::Broken)??
        };
        let id = uuid::Uuid::new_v4().simple().to_string();
        let day = crate::spending::day_of(time::OffsetDateTime::now_utc());
        let new = NewImage {
            id: &id,
            user,
            media_type: checked.media_type,
            width: checked.width,
            height: checked.height,
            bytes: checked.bytes.len(),
            day: &day,
            per_day: self.settings.per_student_per_day,
        };
        if !self.storage.insert_image(&new).await? {
            return Err(UploadError::DailyLimit);
        }
        let uploaded = Uploaded {
            id: id.clone(),
            width: checked.width,
            height: checked.height,
            bytes: checked.bytes.len(),
            media_type: checked.media_type,
        };
        if let Err(err) = self.store.put(&id, checked.bytes, checked.media_type).await {
            // Nothing half-kept: the row goes too (or the sweeper takes it).
            if let Err(undo) = self.storage.discard_image(user, &id).await {
                tracing::warn!(error = %undo, "cannot drop the row of an image not stored; the sweeper will");
            }
            return Err(err.into());
        }
        metrics::counter!("weasel_images_uploaded_total").increment(1);
        Ok(uploaded)
    }

    /// Refuses a student's upload beyond the configured pace.
    async fn throttle(&self, user: UserId) -> Result<(), UploadError> {
        let per_window = self.settings.uploads_per_10_minutes;
        if per_window <= 0 {
            return Ok(());
        }
        let now = crate::storage::now_millis();
        let window = 10 * 60 * 1000;
        let limits = crate::storage::Limits {
            forget_before: now - window,
            threshold: per_window + 1,
            blocks: [window; 5],
        };
        let counted = self
            .storage
            .count_attempt(&format!("upload:{}", user.0), now, limits)
            .await?;
        if !counted.admitted || counted.blocked_until > now {
            return Err(UploadError::TooFast {
                retry_after_secs: ((counted.blocked_until - now) / 1000).max(1),
            });
        }
        Ok(())
    }

    /// The bytes of an image its owner may see.
    pub async fn for_owner(
        &self,
        user: UserId,
        id: &str,
    ) -> Result<Option<(ImageRow, Vec<u8>)>, UploadError> {
        let Some(row) = self.storage.image_of(user, id).await? else {
            return Ok(None);
        };
        Ok(self.store.get(&row.id).await?.map(|bytes| (row, bytes)))
    }

    /// The bytes of an image in a shared conversation.
    pub async fn for_share(&self, token: &str, id: &str) -> Result<Option<(ImageRow, Vec<u8>)>, UploadError> {
        let Some(row) = self.storage.shared_image(token, id).await? else {
            return Ok(None);
        };
        Ok(self.store.get(&row.id).await?.map(|bytes| (row, bytes)))
    }

    /// Removes an upload the student took back before sending.
    pub async fn discard(&self, user: UserId, id: &str) -> Result<bool, UploadError> {
        let discarded = self.storage.discard_image(user, id).await?;
        // Only this upload's bytes and row go now; if that fails, the
        // periodic sweep takes them (the row is already unlinked).
        if discarded && let Err(err) = self.store.delete(id).await {
            tracing::warn!(error = %err, "cannot delete a taken-back upload now; the sweep will");
        } else if discarded {
            self.storage.delete_image_row(id).await?;
        }
        Ok(discarded)
    }

    /// The images as the model receives them.
    pub async fn for_model(&self, rows: &[ImageRow]) -> Result<Vec<ModelImage>, StoreError> {
        let mut images = Vec::with_capacity(rows.len());
        for row in rows {
            let Some(bytes) = self.store.get(&row.id).await? else {
                tracing::warn!(image = %row.id, "an image of a question is missing from the store");
                continue;
            };
            let format = if row.media_type == "image/png" {
                ImageFormat::Png
            } else {
                ImageFormat::Jpeg
            };
            images.push(ModelImage {
                format,
                bytes: bytes.into(),
            });
        }
        Ok(images)
    }

    /// Deletes the bytes, then the rows, of images nothing refers to any
    /// more. Safe on several replicas at once: deleting twice is harmless.
    /// Returns how many went.
    pub async fn sweep(&self) -> usize {
        let pending_before = crate::storage::now_millis() - PENDING_FOR.as_millis() as i64;
        let mut swept = 0;
        loop {
            let ids = match self.storage.images_to_sweep(pending_before, 100).await {
                Ok(ids) => ids,
                Err(err) => {
                    tracing::warn!(error = %err, "cannot list images to sweep");
                    return swept;
                }
            };
            if ids.is_empty() {
                return swept;
            }
            let batch = ids.len();
            for id in ids {
                if let Err(err) = self.store.delete(&id).await {
                    tracing::warn!(error = %err, "cannot delete an image's bytes; the next sweep retries");
                    return swept;
                }
                if let Err(err) = self.storage.delete_image_row(&id).await {
                    tracing::warn!(error = %err, "cannot delete an image's row; the next sweep retries");
                    return swept;
                }
                swept += 1;
            }
            metrics::counter!("weasel_images_swept_total").increment(batch as u64);
            if batch < 100 {
                return swept;
            }
        }
    }

    /// Sweeps every [`SWEEP_EVERY`] for as long as `images` exists.
    pub fn spawn_sweeper(images: &Arc<Self>) {
        let weak = Arc::downgrade(images);
        tokio::spawn(async move {
            let mut every = tokio::time::interval(SWEEP_EVERY);
            loop {
                every.tick().await;
                let Some(images) = weak.upgrade() else { return };
                images.sweep().await;
            }
        });
    }
}

/// The ids of the images of each message.
pub fn ids_by_message(rows: Vec<ImageRow>) -> std::collections::HashMap<MessageId, Vec<String>> {
    crate::storage::by_message(rows)
        .into_iter()
        .map(|(message, rows)| (message, rows.into_iter().map(|r| r.id).collect()))
        .collect()
}
