# Photos of problems students upload. Private, encrypted with the
# environment's KMS key, reachable over TLS only. The app writes and reads
# objects under one prefix (see app-iam) and deletes them itself: a deleted
# conversation's photos must really be gone, so the bucket keeps no versions.

variable "name" {
  description = "Environment name; the bucket is named after it and the account."
  type        = string
}

variable "kms_key_arn" {
  description = "The environment's key for data at rest."
  type        = string
}

variable "prefix" {
  description = "Key prefix the app writes under (WEASEL_S3_PREFIX)."
  type        = string
  default     = "images/"
}

data "aws_caller_identity" "current" {}

resource "aws_s3_bucket" "images" {
  # checkov:skip=CKV_AWS_21:no versions on purpose: a photo the student deleted must not survive as an old version
  # checkov:skip=CKV_AWS_144:students can upload a photo again; a second region would double what must be deleted
  # checkov:skip=CKV2_AWS_62:nothing consumes object events; the app's database lists every object
  # checkov:skip=CKV_AWS_18:every request goes through the app, which logs it; S3 access logs would repeat them
  bucket = "${var.name}-images-${data.aws_caller_identity.current.account_id}"
}

resource "aws_s3_bucket_ownership_controls" "images" {
  bucket = aws_s3_bucket.images.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "images" {
  bucket                  = aws_s3_bucket.images.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_server_side_encryption_configuration" "images" {
  bucket = aws_s3_bucket.images.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = var.kms_key_arn
    }
    bucket_key_enabled = true
  }
}

# Orphans: the app writes an image's database row before its bytes and its
# sweeper deletes the bytes of every image nothing refers to (and uploads
# never sent within a day), so no object is unknown to it. What S3 keeps
# that the app cannot see are unfinished multipart uploads; they go here.
resource "aws_s3_bucket_lifecycle_configuration" "images" {
  bucket = aws_s3_bucket.images.id
  rule {
    id     = "unfinished-uploads"
    status = "Enabled"
    filter {}
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
}

data "aws_iam_policy_document" "tls_only" {
  statement {
    sid     = "TlsOnly"
    effect  = "Deny"
    actions = ["s3:*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    resources = [aws_s3_bucket.images.arn, "${aws_s3_bucket.images.arn}/*"]
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
  statement {
    sid     = "KmsOnly"
    effect  = "Deny"
    actions = ["s3:PutObject"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    resources = ["${aws_s3_bucket.images.arn}/*"]
    condition {
      test     = "StringNotEqualsIfExists"
      variable = "s3:x-amz-server-side-encryption"
      values   = ["aws:kms"]
    }
  }
}

resource "aws_s3_bucket_policy" "images" {
  bucket     = aws_s3_bucket.images.id
  policy     = data.aws_iam_policy_document.tls_only.json
  depends_on = [aws_s3_bucket_public_access_block.images]
}

output "bucket" {
  description = "WEASEL_S3_BUCKET."
  value       = aws_s3_bucket.images.id
}

output "bucket_arn" {
  description = "For the app role's statement."
  value       = aws_s3_bucket.images.arn
}

output "prefix" {
  description = "WEASEL_S3_PREFIX."
  value       = var.prefix
}
