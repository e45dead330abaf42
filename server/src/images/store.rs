//! Where image bytes are kept: one trait, two adapters. A directory under
//! `WEASEL_DATA_DIR` for the one-container deployment; S3 when several
//! replicas must see the same images. Keys are the images' random ids.

use std::path::PathBuf;

use aws_sdk_s3::{error::ProvideErrorMetadata, primitives::ByteStream};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("image store I/O failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("S3 request failed: {0}")]
    S3(String),
    #[error("not an image key")]
    BadKey,
}

#[async_trait::async_trait]
pub trait ImageStore: Send + Sync {
    async fn put(&self, key: &str, bytes: Vec<u8>, media_type: &str) -> Result<(), StoreError>;
    /// `None` when no such image is stored.
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// Deleting what is not there succeeds.
    async fn delete(&self, key: &str) -> Result<(), StoreError>;
    /// `directory` or `s3`, for logs.
    fn kind(&self) -> &'static str;
}

/// Keys are made by the server (hex); anything else never reaches a path.
fn valid(key: &str) -> Result<&str, StoreError> {
    if key.len() == 32 && key.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(key)
    } else {
        Err(StoreError::BadKey)
    }
}

/// Files under a directory, fanned out by the first two characters.
pub struct DirectoryStore {
    root: PathBuf,
}

impl DirectoryStore {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        DirectoryStore { root: root.into() }
    }

    fn path(&self, key: &str) -> Result<PathBuf, StoreError> {
        let key = valid(key)?;
        Ok(self.root.join(&key[..2]).join(key))
    }
}

#[async_trait::async_trait]
impl ImageStore for DirectoryStore {
    async fn put(&self, key: &str, bytes: Vec<u8>, _media_type: &str) -> Result<(), StoreError> {
        let path = self.path(key)?;
        if let Some(dir) = path.parent() {
            tokio::fs::create_dir_all(dir).await?;
        }
        // Written aside, then renamed: a reader never sees half a file.
        let partial = path.with_extension("part");
        tokio::fs::write(&partial, bytes).await?;
        tokio::fs::rename(&partial, &path).await?;
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        match tokio::fs::read(self.path(key)?).await {
            Ok(bytes) => Ok(Some(bytes)),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(err) => Err(err.into()),
        }
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        match tokio::fs::remove_file(self.path(key)?).await {
            Ok(()) => Ok(()),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(err) => Err(err.into()),
        }
    }

    fn kind(&self) -> &'static str {
        "directory"
    }
}

/// Objects in an S3 bucket under a prefix, through the AWS SDK (its
/// credential chain: IRSA on EKS). The bucket encrypts at rest (KMS).
pub struct S3Store {
    client: aws_sdk_s3::Client,
    bucket: String,
    prefix: String,
}

impl S3Store {
    /// `endpoint`: an S3-compatible server (tests); path-style addressing then.
    /// `keys`: an access key id and secret for a store outside AWS (else
    /// the standard AWS chain).
    pub async fn new(
        bucket: String,
        prefix: String,
        region: Option<String>,
        endpoint: Option<String>,
        keys: Option<(String, String)>,
    ) -> Self {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
        if let Some(region) = region {
            loader = loader.region(aws_config::Region::new(region));
        }
        if let Some((id, secret)) = keys {
            loader = loader.credentials_provider(aws_sdk_s3::config::Credentials::new(
                id,
                secret,
                None,
                None,
                "weasel-settings",
            ));
        }
        let shared = loader.load().await;
        let mut config = aws_sdk_s3::config::Builder::from(&shared);
        if let Some(endpoint) = endpoint {
            config = config.endpoint_url(endpoint).force_path_style(true);
        }
        S3Store {
            client: aws_sdk_s3::Client::from_conf(config.build()),
            bucket,
            prefix,
        }
    }

    /// The SDK client (tests create their bucket with it).
    pub fn client(&self) -> &aws_sdk_s3::Client {
        &self.client
    }

    fn key(&self, key: &str) -> Result<String, StoreError> {
        Ok(format!("{}{}", self.prefix, valid(key)?))
    }
}

fn s3_error<E: ProvideErrorMetadata + std::fmt::Debug, R: std::fmt::Debug>(
    err: aws_sdk_s3::error::SdkError<E, R>,
) -> StoreError {
    let detail = match err.as_service_error() {
        Some(service) => format!(
            "{}: {}",
            service.code().unwrap_or("error"),
            service.message().unwrap_or_default()
        ),
        None => format!("{err:?}"),
    };
    StoreError::S3(detail)
}

#[async_trait::async_trait]
impl ImageStore for S3Store {
    async fn put(&self, key: &str, bytes: Vec<u8>, media_type: &str) -> Result<(), StoreError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(self.key(key)?)
            .content_type(media_type)
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map_err(s3_error)?;
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let result = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(self.key(key)?)
            .send()
            .await;
        match result {
            Ok(object) => {
                let body = object
                    .body
                    .collect()
                    .await
                    .map_err(|e| StoreError::S3(e.to_string()))?;
                Ok(Some(body.into_bytes().to_vec()))
            }
            Err(err) if err.as_service_error().is_some_and(|e| e.is_no_such_key()) => Ok(None),
            Err(err) => Err(s3_error(err)),
        }
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(self.key(key)?)
            .send()
            .await
            .map_err(s3_error)?;
        Ok(())
    }

    fn kind(&self) -> &'static str {
        "s3"
    }
}
